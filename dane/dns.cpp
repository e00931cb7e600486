#include "dane/dns.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace dr::dane {

const char* to_string(Security s) {
    switch (s) {
        case Security::secure:
            return "secure";
        case Security::insecure:
            return "insecure";
        case Security::bogus:
            return "bogus";
        case Security::failure:
            return "failure";
    }
    return "?";
}

const char* to_string(Outcome o) {
    switch (o) {
        case Outcome::found:
            return "found";
        case Outcome::nodata:
            return "nodata";
        case Outcome::nxdomain:
            return "nxdomain";
        case Outcome::error:
            return "error";
    }
    return "?";
}

std::string normalize_name(std::string_view name) {
    std::string out(name);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!out.empty() && out.back() == '.') out.pop_back();
    return out;
}

std::string IpAddress::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == Family::v4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
    return buf;
}

std::string to_hex(const std::uint8_t* p, std::size_t n) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * n);
    for (std::size_t i = 0; i < n; ++i) {
        out += kHex[p[i] >> 4];
        out += kHex[p[i] & 15];
    }
    return out;
}

std::string TlsaRecord::to_string() const {
    return std::to_string(usage) + " " + std::to_string(selector) + " " + std::to_string(mtype) +
           " " + to_hex(data.data(), data.size());
}

}  // namespace dr::dane

namespace dr::dane {

std::optional<std::string> domain_name_error(std::string_view name) {
    if (name.empty()) return "empty domain name";
    if (name.front() == '[') return "address literals are not domains: " + std::string(name);
    if (name.find(':') != std::string_view::npos)
        return "IP addresses are not domains: " + std::string(name);
    std::string_view n = name.back() == '.' ? name.substr(0, name.size() - 1) : name;
    if (n.size() > 253) return "domain name longer than 253 octets";
    bool all_numeric = true;
    std::size_t label = 0, labels = 0;
    for (std::size_t i = 0; i <= n.size(); ++i) {
        if (i == n.size() || n[i] == '.') {
            if (label == 0) return "empty label in domain name: " + std::string(name);
            if (n[i - 1] == '-' || n[i - label] == '-')
                return "label starts or ends with '-': " + std::string(name);
            label = 0;
            ++labels;
            continue;
        }
        unsigned char c = static_cast<unsigned char>(n[i]);
        if (!(std::isalnum(c) || c == '-'))
            return "invalid character in domain name: " + std::string(name);
        if (!std::isdigit(c)) all_numeric = false;
        if (++label > 63) return "label longer than 63 octets: " + std::string(name);
    }
    if (all_numeric) return "IP addresses are not domains: " + std::string(name);
    return std::nullopt;
}

}  // namespace dr::dane
