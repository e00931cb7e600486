#include "smtp/address.hpp"

#include <cstdint>

namespace dr::smtp {
namespace {

bool is_alpha(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}
bool is_hex(unsigned char c) {
    return is_digit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

// RFC 5322 atext, plus UTF-8 octets (RFC 6531 §3.3 extends atext with UTF8-non-ascii).
bool is_atext(unsigned char c) {
    if (is_alpha(c) || is_digit(c) || c >= 0x80) return true;
    switch (c) {
        case '!':
        case '#':
        case '$':
        case '%':
        case '&':
        case '\'':
        case '*':
        case '+':
        case '-':
        case '/':
        case '=':
        case '?':
        case '^':
        case '_':
        case '`':
        case '{':
        case '|':
        case '}':
        case '~':
            return true;
        default:
            return false;
    }
}

// Dot-string = Atom *("." Atom)
bool valid_dot_string(std::string_view s) {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c == '.') {
            if (s[i - 1] == '.') return false;
        } else if (!is_atext(c)) {
            return false;
        }
    }
    return true;
}

// Quoted-string = DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE; returns its length or 0.
std::size_t quoted_string_length(std::string_view s) {
    if (s.empty() || s[0] != '"') return 0;
    for (std::size_t i = 1; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c == '"') return i + 1;
        if (c == '\\') {
            if (i + 1 >= s.size()) return 0;
            auto n = static_cast<unsigned char>(s[i + 1]);
            if (n < 32 || n > 126) return 0;
            ++i;
        } else if (!(c == 32 || c == 33 || (c >= 35 && c <= 91) || (c >= 93 && c <= 126) ||
                     c >= 0x80)) {
            return 0;
        }
    }
    return 0;
}

// sub-domain = Let-dig [Ldh-str]; UTF-8 U-labels allowed (RFC 6531 §3.3).
bool valid_domain(std::string_view d) {
    if (d.empty() || d.size() > 255) return false;
    std::size_t start = 0;
    while (start <= d.size()) {
        std::size_t end = d.find('.', start);
        if (end == std::string_view::npos) end = d.size();
        std::string_view label = d.substr(start, end - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        for (unsigned char c : label)
            if (!(is_alpha(c) || is_digit(c) || c == '-' || c >= 0x80)) return false;
        start = end + 1;
        if (end == d.size()) break;
    }
    return true;
}

bool valid_ipv4(std::string_view s) {
    int parts = 0;
    std::size_t i = 0;
    while (i <= s.size()) {
        std::size_t n = 0;
        int v = 0;
        while (i + n < s.size() && is_digit(static_cast<unsigned char>(s[i + n])) && n < 4) {
            v = v * 10 + (s[i + n] - '0');
            ++n;
        }
        if (n == 0 || n > 3 || v > 255) return false;
        ++parts;
        i += n;
        if (i == s.size()) break;
        if (s[i] != '.') return false;
        ++i;
    }
    return parts == 4;
}

// IPv6-address-literal = "IPv6:" IPv6-addr; checked loosely: hex groups, colons, at most
// one "::", optionally an IPv4 tail.
bool valid_ipv6(std::string_view s) {
    if (s.empty() || s.size() > 45) return false;
    int groups = 0;
    bool compressed = false;
    std::size_t i = 0;
    if (s.substr(0, 2) == "::") {
        compressed = true;
        i = 2;
    }
    while (i < s.size()) {
        std::size_t n = 0;
        while (i + n < s.size() && is_hex(static_cast<unsigned char>(s[i + n]))) ++n;
        if (i + n < s.size() && s[i + n] == '.') return valid_ipv4(s.substr(i)) && groups <= 6;
        if (n == 0 || n > 4) return false;
        ++groups;
        i += n;
        if (i == s.size()) break;
        if (s[i] != ':') return false;
        ++i;
        if (i < s.size() && s[i] == ':') {
            if (compressed) return false;
            compressed = true;
            ++i;
        } else if (i == s.size()) {
            return false;
        }
    }
    return compressed ? groups <= 7 : groups == 8;
}

// address-literal = "[" ( IPv4 / "IPv6:" IPv6 / General-address-literal ) "]"
bool valid_address_literal(std::string_view s) {
    if (s.size() < 3 || s.front() != '[' || s.back() != ']') return false;
    std::string_view in = s.substr(1, s.size() - 2);
    if (valid_ipv4(in)) return true;
    if (in.size() > 5 && (in.substr(0, 5) == "IPv6:" || in.substr(0, 5) == "ipv6:"))
        return valid_ipv6(in.substr(5));
    // General-address-literal = Standardized-tag ":" 1*dcontent; no tag is registered
    // besides IPv6, so anything else is refused.
    return false;
}

bool has_non_ascii(std::string_view s) {
    for (unsigned char c : s)
        if (c >= 0x80) return true;
    return false;
}

}  // namespace

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80         ? 0
                        : (c >> 5) == 6  ? 1
                        : (c >> 4) == 14 ? 2
                        : (c >> 3) == 30 ? 3
                                         : 9;
        if (n == 9 || n > s.size() - i - 1) return false;  // bad lead byte or cut short
        std::uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1F) : n == 2 ? (c & 0x0F) : (c & 0x07);
        for (std::size_t k = 1; k <= n; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc >> 6) != 2) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        // No overlong forms, no surrogates, nothing above U+10FFFF.
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000))
            return false;
        if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
        i += n + 1;
    }
    return true;
}

std::optional<Path> parse_mailbox(std::string_view in) {
    Path p;
    std::size_t at;
    if (!in.empty() && in[0] == '"') {
        std::size_t q = quoted_string_length(in);
        if (q == 0 || q >= in.size() || in[q] != '@') return std::nullopt;
        at = q;
    } else {
        at = in.rfind('@');
        if (at == std::string_view::npos || !valid_dot_string(in.substr(0, at)))
            return std::nullopt;
    }
    std::string_view local = in.substr(0, at);
    std::string_view domain = in.substr(at + 1);
    bool literal = !domain.empty() && domain[0] == '[';
    if (literal ? !valid_address_literal(domain) : !valid_domain(domain)) return std::nullopt;
    p.local = std::string(local);
    p.domain = std::string(domain);
    p.address = std::string(in);
    p.utf8 = has_non_ascii(in);
    return p;
}

PathResult parse_path(std::string_view in, bool allow_empty, bool allow_postmaster) {
    PathResult r;
    if (in.empty() || in[0] != '<') return r;
    // Find the closing '>' outside a quoted local part.
    std::size_t i = 1;
    bool quoted = false;
    for (; i < in.size(); ++i) {
        char c = in[i];
        if (quoted && c == '\\')
            ++i;
        else if (c == '"')
            quoted = !quoted;
        else if (c == '>' && !quoted)
            break;
    }
    if (i >= in.size()) return r;
    r.length = i + 1;
    std::string_view inner = in.substr(1, i - 1);
    if (inner.size() > 254) {  // 256 with the brackets (RFC 5321 §4.5.3.1.3)
        r.error = PathError::too_long;
        return r;
    }
    if (inner.empty()) {
        if (allow_empty) r.path = Path{};
        return r;
    }
    if (allow_postmaster && inner.size() == 10) {
        std::string lower(inner);
        for (auto& c : lower) c = static_cast<char>(c | 0x20);
        if (lower == "postmaster") {
            r.path = Path{std::string(inner), std::string(inner), "", false};
            return r;
        }
    }
    // A-d-l ":" is obsolete; RFC 5321 §4.1.2: "servers MUST accept and ignore it".
    if (inner[0] == '@') {
        auto colon = inner.find(':');
        if (colon == std::string_view::npos) return r;
        std::string_view adl = inner.substr(0, colon);
        std::size_t start = 0;
        while (start < adl.size()) {
            std::size_t end = adl.find(',', start);
            if (end == std::string_view::npos) end = adl.size();
            std::string_view hop = adl.substr(start, end - start);
            if (hop.size() < 2 || hop[0] != '@' || !valid_domain(hop.substr(1))) return r;
            start = end + 1;
        }
        inner.remove_prefix(colon + 1);
    }
    auto mailbox = parse_mailbox(inner);
    if (!mailbox) return r;
    if (mailbox->local.size() > 64 || mailbox->domain.size() > 255) {
        r.error = PathError::too_long;
        return r;
    }
    if (mailbox->utf8 && !valid_utf8(mailbox->address)) {
        r.error = PathError::bad_utf8;
        return r;
    }
    r.path = std::move(mailbox);
    return r;
}

std::optional<std::string> xtext_decode(std::string_view in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        auto c = static_cast<unsigned char>(in[i]);
        if (c == '+') {
            if (in.size() - i < 3) return std::nullopt;
            auto h = static_cast<unsigned char>(in[i + 1]);
            auto l = static_cast<unsigned char>(in[i + 2]);
            if (!is_hex(h) || !is_hex(l)) return std::nullopt;
            auto val = [](unsigned char x) {
                return is_digit(x) ? x - '0' : (x | 0x20) - 'a' + 10;
            };
            out += static_cast<char>(val(h) * 16 + val(l));
            i += 2;
        } else if (c >= 33 && c <= 126 && c != '=') {
            out += static_cast<char>(c);
        } else {
            return std::nullopt;
        }
    }
    return out;
}

}  // namespace dr::smtp
