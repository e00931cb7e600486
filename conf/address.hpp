// IP addresses, CIDR networks and host:port endpoints as the config uses them
// (SPEC §3 allowed_clients and listen, §7 forwarders). Entry points: parse_ip,
// parse_cidr, parse_endpoint and matches(); the parsers throw ValueError.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/value_error.hpp"

struct sockaddr;

namespace dr::conf {

// An IPv4 or IPv6 address without Asio: the relay converts with
// IpAddress::v4(a.to_v4().to_bytes()) or IpAddress::v6(a.to_v6().to_bytes()).
struct IpAddress {
    enum class Family { v4, v6 };
    Family family = Family::v4;
    std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4 bytes, the rest stay 0

    static IpAddress v4(const std::array<std::uint8_t, 4>& b);
    static IpAddress v6(const std::array<std::uint8_t, 16>& b);
    // nullopt for anything but AF_INET / AF_INET6.
    static std::optional<IpAddress> from_sockaddr(const sockaddr* sa);

    unsigned bit_width() const { return family == Family::v4 ? 32 : 128; }
    // ::ffff:a.b.c.d as the IPv4 address a.b.c.d; otherwise nullopt.
    std::optional<IpAddress> unmapped_v4() const;
    std::string to_string() const;  // inet_ntop form, no brackets
    bool operator==(const IpAddress&) const = default;
};

// "192.0.2.1" or "2001:db8::1" (inet_pton syntax, no brackets, no zone id).
std::optional<IpAddress> parse_ip(std::string_view text);

// A network: the address has no bits set beyond the prefix.
struct Cidr {
    IpAddress network;
    unsigned prefix = 0;
    std::string to_string() const;  // "127.0.0.0/8"
    bool operator==(const Cidr&) const = default;
};

// "10.0.0.0/8", "::1/128"; a bare address means a single host (/32, /128).
// Host bits set beyond the prefix ("10.1.2.3/8") are refused, not masked:
// such an entry is almost always a typo for a narrower or wider network.
Cidr parse_cidr(std::string_view text);

// True when addr lies in net. An IPv4-mapped IPv6 address (::ffff:a.b.c.d, what
// a dual-stack socket reports for IPv4 peers) is matched as the IPv4 address.
bool matches(const Cidr& net, const IpAddress& addr);
bool matches_any(const std::vector<Cidr>& nets, const IpAddress& addr);

// An IP address and a port. Host names are not accepted: listening and
// forwarding must not depend on DNS.
struct Endpoint {
    IpAddress address;
    std::uint16_t port = 0;
    std::string to_string() const;  // "127.0.0.1:10025", "[::1]:10025"
    bool operator==(const Endpoint&) const = default;
};

// "127.0.0.1:10025" or "[::1]:10025". Without default_port the port is required;
// with it, "127.0.0.1" and "::1" (unbracketed) are accepted too.
Endpoint parse_endpoint(std::string_view text, std::optional<std::uint16_t> default_port = {});

// A decimal port 1..65535.
std::uint16_t parse_port(std::string_view text);

}  // namespace dr::conf
