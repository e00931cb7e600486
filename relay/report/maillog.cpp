// Parsing Postfix-format log lines (see maillog.hpp).
#include "relay/report/maillog.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

namespace dr::relay::report {

namespace {

// The next blank-separated word of `s`, taken off it.
std::string_view take_word(std::string_view& s) {
    std::size_t end = s.find(' ');
    std::string_view w = s.substr(0, end);
    s.remove_prefix(end == std::string_view::npos ? s.size() : end + 1);
    return w;
}

// "Nov 23 19:20:01" in local time, the year chosen as parse_line() says.
std::optional<std::time_t> traditional_time(std::string_view stamp, std::time_t now) {
    std::string text(stamp);
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), "%b %e %H:%M:%S", &tm);
    if (!end || *end) return std::nullopt;
    std::tm today{};
    ::localtime_r(&now, &today);
    for (int year : {today.tm_year, today.tm_year - 1}) {
        std::tm t = tm;
        t.tm_year = year;
        t.tm_isdst = -1;
        std::time_t when = std::mktime(&t);
        if (when != -1 && when <= now + 86400) return when;
    }
    return std::nullopt;
}

// "2026-11-23T19:20:01[.123456](Z|+01:00)": fractions dropped, the offset applied.
std::optional<std::time_t> rfc3339_time(std::string_view stamp) {
    std::string text(stamp);
    if (auto dot = text.find('.'); dot != std::string::npos) {
        std::size_t digits = dot + 1;
        while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])))
            ++digits;
        text.erase(dot, digits - dot);
    }
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S%z", &tm);
    if (!end || *end) return std::nullopt;
    const long offset = tm.tm_gmtoff;  // timegm() resets it
    return ::timegm(&tm) - offset;
}

// The value of "key=" up to ", " in a delivery line's fields, or nullopt.
std::optional<std::string_view> field(std::string_view fields, std::string_view key) {
    for (std::size_t at = 0; at < fields.size();) {
        std::size_t end = fields.find(", ", at);
        std::string_view f = fields.substr(at, end == std::string_view::npos ? end : end - at);
        if (f.size() > key.size() && f.substr(0, key.size()) == key && f[key.size()] == '=')
            return f.substr(key.size() + 1);
        if (end == std::string_view::npos) break;
        at = end + 2;
    }
    return std::nullopt;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool contains(std::string_view s, std::string_view part) {
    return s.find(part) != std::string_view::npos;
}

}  // namespace

std::string_view LogLine::role() const {
    std::size_t slash = name.rfind('/');
    return slash == std::string_view::npos ? name : name.substr(slash + 1);
}

std::optional<LogLine> parse_line(std::string_view line, std::time_t now) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    LogLine l;
    std::optional<std::time_t> when;
    if (line.size() > 16 && std::isalpha(static_cast<unsigned char>(line[0]))) {
        when = traditional_time(line.substr(0, 15), now);
        line.remove_prefix(16);
    } else {
        when = rfc3339_time(take_word(line));
    }
    if (!when) return std::nullopt;
    l.when = *when;
    l.host = take_word(line);
    std::size_t colon = line.find(": ");
    if (l.host.empty() || colon == std::string_view::npos) return std::nullopt;
    std::string_view tag = line.substr(0, colon);
    l.text = line.substr(colon + 2);
    if (std::size_t open = tag.find('['); open != std::string_view::npos) {
        if (tag.back() != ']') return std::nullopt;
        l.pid = tag.substr(open + 1, tag.size() - open - 2);
        tag = tag.substr(0, open);
    }
    if (tag.empty() || contains(tag, " ")) return std::nullopt;
    l.name = tag;
    return l;
}

std::optional<TlsLine> parse_tls(std::string_view text) {
    static constexpr std::string_view kMiddle = " TLS connection established to ";
    std::size_t mid = text.find(kMiddle);
    if (mid == std::string_view::npos) return std::nullopt;
    std::string_view level = text.substr(0, mid);
    static constexpr std::array<std::string_view, 4> kLevels = {"Anonymous", "Untrusted", "Trusted",
                                                                "Verified"};
    if (std::find(kLevels.begin(), kLevels.end(), level) == kLevels.end()) return std::nullopt;
    std::string_view rest = text.substr(mid + kMiddle.size());
    // host[addr]:port, then ": " and the protocol details.
    std::size_t close = rest.find(']');
    std::size_t end = close == std::string_view::npos ? close : rest.find(": ", close);
    if (end == std::string_view::npos) return std::nullopt;
    return TlsLine{std::string(level), std::string(rest.substr(0, end))};
}

std::optional<Delivery> parse_delivery(std::string_view text) {
    std::size_t colon = text.find(": to=<");
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    Delivery d;
    d.queue_id = text.substr(0, colon);
    std::string_view rest = text.substr(colon + 2);
    std::size_t status_at = rest.find(", status=");
    if (status_at == std::string_view::npos) return std::nullopt;
    std::string_view fields = rest.substr(0, status_at);
    std::string_view status = rest.substr(status_at + 9);
    std::size_t paren = status.find(" (");
    d.status = status.substr(0, paren);
    if (paren != std::string_view::npos && status.back() == ')')
        d.reason = status.substr(paren + 2, status.size() - paren - 3);
    auto to = field(fields, "to");
    auto relay = field(fields, "relay");
    auto dsn = field(fields, "dsn");
    if (!to || to->size() < 2 || to->front() != '<' || to->back() != '>' || !relay || !dsn)
        return std::nullopt;
    d.recipient = to->substr(1, to->size() - 2);
    d.relay = *relay;
    d.dsn = *dsn;
    if (auto tls = field(fields, "tls")) d.tls = *tls;
    return d;
}

std::string Delivery::domain() const {
    std::size_t at = recipient.rfind('@');
    return at == std::string::npos ? std::string() : lower(recipient.substr(at + 1));
}

std::string Delivery::relay_host() const {
    return lower(std::string_view(relay).substr(0, relay.find('[')));
}

Reason classify(const Delivery& d) {
    const std::string_view r = d.reason;
    struct Known {
        std::string_view text, label;
        bool dane;
    };
    static constexpr std::array<Known, 10> kKnown = {{
        {"TLS is required, but was not offered", "dane: STARTTLS not offered", true},
        {"refused to start TLS", "dane: STARTTLS refused", true},
        {"Server certificate not verified", "dane: certificate not verified", true},
        {"Cannot start TLS", "tls: handshake failure", true},
        {"TLSA lookup error", "dane: TLSA lookup error", true},
        {"non DNSSEC destination", "dane: destination not DNSSEC-signed", true},
        {"no TLSA records found", "dane: no TLSA records", true},
        {"does not accept mail (nullMX)", "null MX", false},
        {"Host or domain name not found", "dns: lookup failed", false},
        {"delivery temporarily suspended", "connection: destination suspended", false},
    }};
    for (const auto& k : kKnown)
        if (contains(r, k.text)) return {std::string(k.label), k.dane};
    if (contains(r, " said: ")) return {"remote reply " + d.dsn, false};
    if (contains(r, "connect to ") || contains(r, "lost connection") || contains(r, "timed out") ||
        contains(r, "Connection refused"))
        return {"connection: failed or lost", false};
    return {"other " + d.dsn, false};
}

}  // namespace dr::relay::report
