#include "conf/values.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

namespace dr::conf {

namespace {

std::string quoted(std::string_view text) {
    return "\"" + std::string(text) + "\"";
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Splits "123x" into its number and the rest; nullopt without leading digits
// or when the number does not fit.
std::optional<std::pair<std::uint64_t, std::string_view>> split_number(std::string_view text) {
    auto end = std::find_if_not(text.begin(), text.end(), is_digit);
    if (end == text.begin()) return std::nullopt;
    std::uint64_t n = 0;
    auto digits = static_cast<std::size_t>(end - text.begin());
    if (std::from_chars(text.data(), text.data() + digits, n).ec != std::errc{})
        return std::pair<std::uint64_t, std::string_view>{std::numeric_limits<std::uint64_t>::max(),
                                                          text.substr(digits)};
    return std::pair<std::uint64_t, std::string_view>{n, text.substr(digits)};
}

// n * unit, or nullopt when the product exceeds max.
std::optional<std::uint64_t> scaled(std::uint64_t n, std::uint64_t unit, std::uint64_t max) {
    if (n > max / unit) return std::nullopt;
    return n * unit;
}

}  // namespace

std::chrono::seconds parse_duration(std::string_view text) {
    constexpr std::uint64_t kMax = std::numeric_limits<std::int32_t>::max();
    auto parts = split_number(text);
    if (!parts)
        throw ValueError("bad duration " + quoted(text) +
                         ": expected a number and a unit, as in "
                         "\"30s\", \"5m\", \"1h\", \"5d\"");
    auto [n, unit] = *parts;
    std::uint64_t seconds_per_unit = 0;
    if (unit == "s")
        seconds_per_unit = 1;
    else if (unit == "m")
        seconds_per_unit = 60;
    else if (unit == "h")
        seconds_per_unit = 3600;
    else if (unit == "d")
        seconds_per_unit = 86400;
    else if (unit == "w")
        seconds_per_unit = 7 * 86400;
    else if (unit.empty())
        throw ValueError("bad duration " + quoted(text) + ": unit missing (s, m, h, d or w)");
    else
        throw ValueError("bad duration " + quoted(text) + ": unknown unit " + quoted(unit) +
                         " (s, m, h, d or w)");
    auto s = scaled(n, seconds_per_unit, kMax);
    if (!s) throw ValueError("bad duration " + quoted(text) + ": too long (at most 68 years)");
    return std::chrono::seconds(static_cast<std::int64_t>(*s));
}

std::uint64_t parse_size(std::string_view text) {
    constexpr std::uint64_t kMax = std::uint64_t{1} << 53;
    auto parts = split_number(text);
    if (!parts)
        throw ValueError("bad size " + quoted(text) +
                         ": expected bytes or a number with k, M or G, "
                         "as in \"50M\"");
    auto [n, unit] = *parts;
    std::uint64_t multiplier = 0;
    if (unit.empty())
        multiplier = 1;
    else if (unit.size() == 1 && lower(unit[0]) == 'k')
        multiplier = std::uint64_t{1} << 10;
    else if (unit.size() == 1 && lower(unit[0]) == 'm')
        multiplier = std::uint64_t{1} << 20;
    else if (unit.size() == 1 && lower(unit[0]) == 'g')
        multiplier = std::uint64_t{1} << 30;
    else
        throw ValueError("bad size " + quoted(text) + ": unknown unit " + quoted(unit) +
                         " (k, M or G)");
    auto bytes = scaled(n, multiplier, kMax);
    if (!bytes) throw ValueError("bad size " + quoted(text) + ": too large");
    return *bytes;
}

namespace {

void check_label(std::string_view domain, std::string_view label) {
    if (label.empty()) throw ValueError("bad domain " + quoted(domain) + ": empty label");
    if (label.size() > 63)
        throw ValueError("bad domain " + quoted(domain) + ": label longer than 63 octets");
    for (char c : label)
        if (!is_alpha(c) && !is_digit(c) && c != '-')
            throw ValueError("bad domain " + quoted(domain) + ": " +
                             quoted(std::string_view(&c, 1)) +
                             " not allowed (letters, digits and hyphens only)");
    if (label.front() == '-' || label.back() == '-')
        throw ValueError("bad domain " + quoted(domain) + ": label " + quoted(label) +
                         " starts or ends with a hyphen");
}

}  // namespace

std::string parse_domain(std::string_view text) {
    if (std::any_of(text.begin(), text.end(),
                    [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
        throw ValueError("bad domain " + quoted(text) +
                         ": not ASCII; write internationalised names as A-labels (xn--...)");
    std::string name(text);
    if (!name.empty() && name.back() == '.') name.pop_back();
    if (name.empty()) throw ValueError("bad domain " + quoted(text) + ": empty");
    if (name.size() > 253)
        throw ValueError("bad domain " + quoted(text) + ": longer than 253 octets");
    std::string_view rest = name, last;
    while (true) {
        auto dot = rest.find('.');
        last = rest.substr(0, dot);
        check_label(text, last);
        if (dot == std::string_view::npos) break;
        rest.remove_prefix(dot + 1);
    }
    // RFC 3696 section 2: a top-level domain is never all-numeric.
    if (std::all_of(last.begin(), last.end(), is_digit))
        throw ValueError("bad domain " + quoted(text) + ": an address, not a domain name");
    std::transform(name.begin(), name.end(), name.begin(), lower);
    return name;
}

std::string parse_mailbox(std::string_view text) {
    auto at = text.rfind('@');
    if (at == std::string_view::npos || at == 0)
        throw ValueError("bad address " + quoted(text) + ": expected local@domain");
    auto local = text.substr(0, at);
    // RFC 5322 atext and dots, not at the ends and never two in a row.
    static constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~.";
    bool ok = local.front() != '.' && local.back() != '.' &&
              local.find("..") == std::string_view::npos &&
              std::all_of(local.begin(), local.end(), [](char c) {
                  return std::isalnum(static_cast<unsigned char>(c)) ||
                         kSpecials.find(c) != std::string_view::npos;
              });
    if (!ok) throw ValueError("bad address " + quoted(text) + ": the local part is not a dot-atom");
    return std::string(local) + "@" + parse_domain(text.substr(at + 1));
}

namespace {

Nexthop parse_bracketed_nexthop(std::string_view text) {
    auto close = text.find(']');
    if (close == std::string_view::npos)
        throw ValueError("bad next hop " + quoted(text) + ": missing \"]\"");
    auto inside = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    Nexthop hop;
    hop.mx_lookup = false;  // Postfix: brackets suppress the MX lookup
    if (!rest.empty()) {
        if (!rest.starts_with(':'))
            throw ValueError("bad next hop " + quoted(text) + ": junk after \"]\"");
        hop.port = parse_port(rest.substr(1));
    }
    // Postfix also writes IPv6 literals as [ipv6:...] (RFC 5321 4.1.3).
    auto literal = inside;
    if (literal.size() > 5 && std::equal(literal.begin(), literal.begin() + 5,
                                         "ipv6:", [](char a, char b) { return lower(a) == b; }))
        literal.remove_prefix(5);
    if (auto addr = parse_ip(literal)) {
        hop.address = addr;
        hop.host = addr->to_string();
    } else {
        hop.host = parse_domain(inside);
    }
    return hop;
}

}  // namespace

Nexthop parse_nexthop(std::string_view text) {
    if (text.starts_with('[')) return parse_bracketed_nexthop(text);
    auto colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos)
        throw ValueError("bad next hop " + quoted(text) +
                         ": write an IPv6 address in brackets, as in \"[2001:db8::1]:25\"");
    auto host = text.substr(0, colon);
    if (parse_ip(host))
        throw ValueError("bad next hop " + quoted(text) + ": an address needs brackets, as in \"[" +
                         std::string(host) + "]\" (there is no MX lookup for an address)");
    Nexthop hop;
    hop.host = parse_domain(host);
    if (colon != std::string_view::npos) hop.port = parse_port(text.substr(colon + 1));
    return hop;
}

std::string Nexthop::to_string() const {
    std::string s = host;
    if (!mx_lookup) s = "[" + s + "]";
    if (port != 25) {
        // Appended: "..." + std::string gives a false -Wrestrict at -O3 (GCC 12, bug 105329).
        s += ':';
        s += std::to_string(port);
    }
    return s;
}

std::string parse_absolute_path(std::string_view text) {
    if (text.find('\0') != std::string_view::npos)
        throw ValueError("bad path: contains a NUL byte");
    if (!text.starts_with('/'))
        throw ValueError("bad path " + quoted(text) + ": must be absolute (start with \"/\")");
    return std::string(text);
}

LogTarget parse_log_target(std::string_view text) {
    if (text == "syslog") return {LogTarget::Kind::syslog, {}};
    if (text == "stderr") return {LogTarget::Kind::standard_error, {}};
    if (text.starts_with("file:"))
        return {LogTarget::Kind::file, parse_absolute_path(text.substr(5))};
    throw ValueError("bad log target " + quoted(text) +
                     ": expected \"syslog\", \"stderr\" or \"file:/absolute/path\"");
}

std::string LogTarget::to_string() const {
    switch (kind) {
        case Kind::syslog:
            return "syslog";
        case Kind::standard_error:
            return "stderr";
        case Kind::file:
            return "file:" + path;
    }
    return "?";
}

}  // namespace dr::conf
