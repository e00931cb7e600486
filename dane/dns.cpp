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

std::string TlsaRecord::to_string() const {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out =
        std::to_string(usage) + " " + std::to_string(selector) + " " + std::to_string(mtype) + " ";
    for (auto b : data) {
        out += kHex[b >> 4];
        out += kHex[b & 15];
    }
    return out;
}

}  // namespace dr::dane
