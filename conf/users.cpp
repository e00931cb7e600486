#include "conf/users.hpp"

#include <crypt.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

namespace dr::conf {

namespace {

std::string_view trim(std::string_view s) {
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
    while (!s.empty() && blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && blank(s.back())) s.remove_suffix(1);
    return s;
}

std::string user_problem(std::string_view user) {
    if (user.empty()) return "empty user name";
    for (char c : user)
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
            return "user name with a blank or control character";
    return {};
}

// The crypt(3) verdict on the method alone (crypt_checksalt, libxcrypt).
std::string method_problem(const std::string& hash) {
    switch (crypt_checksalt(hash.c_str())) {
        case CRYPT_SALT_OK:
            return {};
        case CRYPT_SALT_METHOD_LEGACY:
            return "a legacy crypt(3) method (DES, MD5, ...) or a plain password; make the hash "
                   "with `mkpasswd -m yescrypt` or `openssl passwd -6`";
        case CRYPT_SALT_METHOD_DISABLED:
            return "a crypt(3) method this libcrypt has disabled";
        case CRYPT_SALT_TOO_CHEAP:
            return "a crypt(3) hash with too low a cost";
        default:
            return "not a crypt(3) hash";
    }
}

}  // namespace

std::string crypt_hash_problem(std::string_view hash) {
    if (hash.empty()) return "empty hash";
    if (hash.front() == '!' || hash.front() == '*') return "a locked account, not a crypt(3) hash";
    if (hash.find(':') != std::string_view::npos)
        return "more than one ':' (an /etc/shadow line? give only user:hash)";
    std::string h(hash);
    if (auto p = method_problem(h); !p.empty()) return p;
    // Hashing anything with the hash as setting gives a string of the same shape: a hash cut
    // short, or a bare salt, gives another length.
    auto data = std::make_unique<crypt_data>();
    const char* out = crypt_rn("", h.c_str(), data.get(), sizeof *data);
    if (!out) return "not a crypt(3) hash";
    std::string_view got(out);
    auto salt_end = h.rfind('$');
    if (got.size() != h.size() || got.substr(0, salt_end) != hash.substr(0, salt_end))
        return "an incomplete crypt(3) hash (cut short, or only a salt)";
    return {};
}

UsersFile parse_users(std::string_view text, std::string_view source) {
    UsersFile out;
    std::map<std::string, unsigned, std::less<>> first_line;
    unsigned number = 0;
    auto fail = [&](const std::string& why) {
        out.errors.push_back(std::string(source) + ":" + std::to_string(number) + ": " + why);
    };
    while (!text.empty()) {
        ++number;
        auto end = text.find('\n');
        std::string_view line = trim(text.substr(0, end));
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        if (line.empty() || line.front() == '#') continue;
        auto colon = line.find(':');
        if (colon == std::string_view::npos) {
            fail("no ':' (a line is user:hash)");
            continue;
        }
        std::string_view user = line.substr(0, colon), hash = line.substr(colon + 1);
        std::string why = user_problem(user);
        if (why.empty()) why = crypt_hash_problem(hash);
        if (why.empty() && first_line.contains(user))
            why = "user \"" + std::string(user) + "\" again (first on line " +
                  std::to_string(first_line.find(user)->second) + ")";
        if (!why.empty()) {
            fail(why);
            continue;
        }
        first_line.emplace(user, number);
        out.users.emplace(user, hash);
    }
    if (out.errors.empty() && out.users.empty())
        out.errors.push_back(std::string(source) + ": no user:hash lines");
    return out;
}

UsersFile load_users(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return UsersFile{{}, {path + ": cannot open: " + std::strerror(errno)}};
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return UsersFile{{}, {path + ": cannot read: " + std::strerror(errno)}};
    return parse_users(text.str(), path);
}

}  // namespace dr::conf
