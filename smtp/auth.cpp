#include "smtp/auth.hpp"

namespace dr::smtp {

std::optional<Credentials> parse_auth_plain(std::string_view message) {
    auto first = message.find('\0');
    if (first == std::string_view::npos) return std::nullopt;
    auto second = message.find('\0', first + 1);
    if (second == std::string_view::npos) return std::nullopt;
    std::string_view authzid = message.substr(0, first);
    Credentials c{std::string(message.substr(first + 1, second - first - 1)),
                  std::string(message.substr(second + 1))};
    if (c.user.empty() || c.password.find('\0') != std::string::npos) return std::nullopt;
    if (!authzid.empty() && authzid != c.user) return std::nullopt;
    return c;
}

std::optional<std::vector<std::string>> auth_prompts(std::string_view mechanism) {
    std::string m(mechanism);
    for (auto& ch : m)
        if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    if (m == "PLAIN") return std::vector<std::string>{""};
    if (m == "LOGIN") return std::vector<std::string>{"VXNlcm5hbWU6", "UGFzc3dvcmQ6"};
    return std::nullopt;
}

}  // namespace dr::smtp
