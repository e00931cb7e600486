// Pure parsers for the config's value syntaxes (SPEC §8): durations, sizes,
// domain names, policy next hops, log targets. Text in, value out; a bad
// value throws ValueError whose message says what is wrong and what is allowed.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "conf/address.hpp"
#include "conf/value_error.hpp"

namespace dr::conf {

// "30s", "5m", "1h", "5d", "2w" (Postfix's time units). A unit is required:
// a bare number is ambiguous (Postfix's default unit differs per parameter);
// the loader accepts a TOML integer as seconds instead. At most 2^31-1 s.
std::chrono::seconds parse_duration(std::string_view text);

// "1048576", "10k", "50M", "1G": bytes, with binary multipliers (k = 1024).
// Units are case-insensitive. At most 2^53 bytes.
std::uint64_t parse_size(std::string_view text);

// A DNS domain name in canonical form: ASCII letters, digits and hyphens
// (RFC 5321 4.1.2 Domain), lower-cased, one trailing dot stripped, labels of
// 1..63 octets, at most 253 in all, not all-numeric at the top (an IP address
// is not a domain). Internationalised names must be given as A-labels (xn--).
std::string parse_domain(std::string_view text);

// "local@domain" (RFC 5321 Mailbox, a dot-atom local part): the local part as written, the
// domain as parse_domain() gives it.
std::string parse_mailbox(std::string_view text);

// A next hop as in Postfix's transport and TLS policy maps:
//   "[host]:port", "[host]"  connect to host directly (no MX lookup)
//   "host:port", "host"      look up host's MX records, then connect to them
// host is a domain name, or (in brackets only) an IPv4/IPv6 address literal.
struct Nexthop {
    std::string host;                  // canonical domain, or the address text
    std::optional<IpAddress> address;  // set when host is an address literal
    std::uint16_t port = 25;
    bool mx_lookup = true;          // false for the bracketed forms
    std::string to_string() const;  // Postfix form: "[mx.example]:2525", "example.org"
    bool operator==(const Nexthop&) const = default;
};
Nexthop parse_nexthop(std::string_view text);

// Where log lines go (SPEC §6).
struct LogTarget {
    enum class Kind { syslog, standard_error, file };
    Kind kind = Kind::syslog;
    std::string path;               // absolute, for Kind::file
    std::string to_string() const;  // "syslog", "stderr", "file:/var/log/dane-relay.log"
    bool operator==(const LogTarget&) const = default;
};
// "syslog" | "stderr" | "file:/absolute/path".
LogTarget parse_log_target(std::string_view text);

// An absolute path without NUL bytes. Config paths must be absolute: the
// daemon's working directory is not the operator's.
std::string parse_absolute_path(std::string_view text);

}  // namespace dr::conf
