#include "conf/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace dr::conf {

namespace {

std::string quoted(std::string_view text) {
    return "\"" + std::string(text) + "\"";
}

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Splits "[v6]:port", "v4:port" (and, when port_optional, "[v6]", "v4", "v6")
// into the address text and the port text (empty when absent).
std::pair<std::string_view, std::optional<std::string_view>> split_host_port(std::string_view text,
                                                                             bool port_optional) {
    if (text.starts_with('[')) {
        auto close = text.find(']');
        if (close == std::string_view::npos)
            throw ValueError("bad address " + quoted(text) + ": missing \"]\"");
        auto rest = text.substr(close + 1);
        if (!rest.empty() && !rest.starts_with(':'))
            throw ValueError("bad address " + quoted(text) + ": junk after \"]\"");
        if (rest.empty() && !port_optional)
            throw ValueError("bad address " + quoted(text) + ": port required, as in \"" +
                             std::string(text) + ":25\"");
        if (rest.empty()) return {text.substr(1, close - 1), std::nullopt};
        return {text.substr(1, close - 1), rest.substr(1)};
    }
    auto colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
        // Several colons: a bare IPv6 address; a port needs the brackets.
        if (!port_optional)
            throw ValueError("bad address " + quoted(text) +
                             ": write an IPv6 address with a port as \"[addr]:port\"");
        return {text, std::nullopt};
    }
    if (colon == std::string_view::npos) {
        if (!port_optional)
            throw ValueError("bad address " + quoted(text) + ": port required, as in \"" +
                             std::string(text) + ":25\"");
        return {text, std::nullopt};
    }
    return {text.substr(0, colon), text.substr(colon + 1)};
}

}  // namespace

IpAddress IpAddress::v4(const std::array<std::uint8_t, 4>& b) {
    IpAddress a;
    a.family = Family::v4;
    std::copy(b.begin(), b.end(), a.bytes.begin());
    return a;
}

IpAddress IpAddress::v6(const std::array<std::uint8_t, 16>& b) {
    IpAddress a;
    a.family = Family::v6;
    a.bytes = b;
    return a;
}

std::optional<IpAddress> IpAddress::from_sockaddr(const sockaddr* sa) {
    if (sa == nullptr) return std::nullopt;
    if (sa->sa_family == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, sa, sizeof in);
        std::array<std::uint8_t, 4> b{};
        std::memcpy(b.data(), &in.sin_addr, 4);
        return v4(b);
    }
    if (sa->sa_family == AF_INET6) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, sa, sizeof in6);
        std::array<std::uint8_t, 16> b{};
        std::memcpy(b.data(), &in6.sin6_addr, 16);
        return v6(b);
    }
    return std::nullopt;
}

std::optional<IpAddress> IpAddress::unmapped_v4() const {
    // RFC 4291 2.5.5.2: ::ffff:0:0/96 carries an IPv4 address in the low 32 bits.
    static constexpr std::uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family != Family::v6 || !std::equal(kPrefix, kPrefix + 12, bytes.begin()))
        return std::nullopt;
    return v4({bytes[12], bytes[13], bytes[14], bytes[15]});
}

std::string IpAddress::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == Family::v4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
    return buf;
}

std::optional<IpAddress> parse_ip(std::string_view text) {
    // inet_pton needs a NUL-terminated string; anything that long is no address.
    if (text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
    std::string s(text);
    IpAddress a;
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
    a.family = IpAddress::Family::v6;
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) return a;
    return std::nullopt;
}

namespace {

// True when the first `prefix` bits of a and b agree.
bool same_prefix(const IpAddress& a, const IpAddress& b, unsigned prefix) {
    unsigned full = prefix / 8, rest = prefix % 8;
    if (!std::equal(a.bytes.begin(), a.bytes.begin() + full, b.bytes.begin())) return false;
    if (rest == 0) return true;
    auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (a.bytes[full] & mask) == (b.bytes[full] & mask);
}

IpAddress masked(const IpAddress& a, unsigned prefix) {
    IpAddress m = a;
    for (unsigned bit = prefix; bit < a.bit_width(); ++bit)
        m.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
    return m;
}

}  // namespace

std::string Cidr::to_string() const {
    return network.to_string() + "/" + std::to_string(prefix);
}

Cidr parse_cidr(std::string_view text) {
    auto slash = text.find('/');
    auto addr_text = text.substr(0, slash);
    auto addr = parse_ip(addr_text);
    if (!addr)
        throw ValueError("bad network " + quoted(text) + ": " + quoted(addr_text) +
                         " is not an IPv4 or IPv6 address");
    Cidr net{*addr, addr->bit_width()};
    if (slash == std::string_view::npos) return net;
    auto len = text.substr(slash + 1);
    unsigned prefix = 0;
    if (!all_digits(len) || len.size() > 3 ||
        std::from_chars(len.data(), len.data() + len.size(), prefix).ec != std::errc{} ||
        prefix > addr->bit_width())
        throw ValueError("bad network " + quoted(text) + ": prefix length must be 0.." +
                         std::to_string(addr->bit_width()));
    net.prefix = prefix;
    if (masked(*addr, prefix) != *addr)
        throw ValueError("bad network " + quoted(text) + ": host bits set, did you mean \"" +
                         Cidr{masked(*addr, prefix), prefix}.to_string() + "\"?");
    return net;
}

bool matches(const Cidr& net, const IpAddress& addr) {
    if (net.network.family == addr.family) return same_prefix(net.network, addr, net.prefix);
    if (net.network.family == IpAddress::Family::v4)
        if (auto v4 = addr.unmapped_v4()) return same_prefix(net.network, *v4, net.prefix);
    return false;
}

bool matches_any(const std::vector<Cidr>& nets, const IpAddress& addr) {
    return std::any_of(nets.begin(), nets.end(), [&](const Cidr& n) { return matches(n, addr); });
}

std::string Endpoint::to_string() const {
    auto a = address.to_string();
    if (address.family == IpAddress::Family::v6) a = "[" + a + "]";
    return a + ":" + std::to_string(port);
}

std::uint16_t parse_port(std::string_view text) {
    unsigned port = 0;
    if (!all_digits(text) || text.size() > 5 ||
        std::from_chars(text.data(), text.data() + text.size(), port).ec != std::errc{} ||
        port == 0 || port > 65535)
        throw ValueError("bad port " + quoted(text) + ": must be 1..65535");
    return static_cast<std::uint16_t>(port);
}

Endpoint parse_endpoint(std::string_view text, std::optional<std::uint16_t> default_port) {
    auto [host, port] = split_host_port(text, default_port.has_value());
    auto addr = parse_ip(host);
    if (!addr)
        throw ValueError("bad address " + quoted(text) + ": " + quoted(host) +
                         " is not an IPv4 or IPv6 address");
    if (text.starts_with('[') && addr->family == IpAddress::Family::v4)
        throw ValueError("bad address " + quoted(text) + ": only IPv6 addresses go in brackets");
    return {*addr, port ? parse_port(*port) : *default_port};
}

}  // namespace dr::conf
