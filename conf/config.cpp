#include "conf/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <climits>

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

std::vector<Endpoint> ServerConfig::default_listen() {
    // SPEC §3: loopback only, both families.
    return {parse_endpoint("127.0.0.1:10025"), parse_endpoint("[::1]:10025")};
}

std::vector<Cidr> ServerConfig::default_allowed_clients() {
    return {parse_cidr("127.0.0.0/8"), parse_cidr("::1/128")};
}

namespace {
std::string join_lines(const std::vector<std::string>& lines) {
    std::string all;
    for (const auto& l : lines) all += (all.empty() ? "" : "\n") + l;
    return all;
}
}  // namespace

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error(join_lines(problems)), problems_(std::move(problems)) {}

std::string default_hostname() {
    char name[HOST_NAME_MAX + 1] = {};
    if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
    return name;
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
