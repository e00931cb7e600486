#include "conf/config.hpp"

#include <algorithm>

namespace dr::conf {

namespace {
constexpr std::pair<TlsLevel, const char*> kLevelNames[] = {
    {TlsLevel::dane_only, "dane-only"}, {TlsLevel::dane, "dane"}, {TlsLevel::encrypt, "encrypt"},
    {TlsLevel::verify, "verify"},       {TlsLevel::may, "may"},   {TlsLevel::none, "none"},
};
}  // namespace

const char* to_string(TlsLevel level) {
    for (auto& [l, name] : kLevelNames)
        if (l == level) return name;
    return "?";
}

std::optional<TlsLevel> parse_tls_level(std::string_view text) {
    for (auto& [l, name] : kLevelNames)
        if (text == name) return l;
    return std::nullopt;
}

DomainPolicy PolicyConfig::for_domain(const std::string& domain) const {
    std::string key = domain;
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!key.empty() && key.back() == '.') key.pop_back();
    if (auto it = domains.find(key); it != domains.end()) return it->second;
    return DomainPolicy{default_level, {}};
}

}  // namespace dr::conf
