// See sts.hpp. The ABNF quoted in comments is RFC 8461's and RFC 8460's; its %s strings
// are case-sensitive, and so are the comparisons here.
#include "dane/sts.hpp"

#include <algorithm>
#include <charconv>

#include "dane/dns.hpp"

namespace dr::dane {
namespace {

bool is_wsp(char c) {
    return c == ' ' || c == '\t';
}
bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

std::string_view trim_wsp(std::string_view s) {
    while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
    return s;
}

// ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
bool is_ext_name(std::string_view s) {
    if (s.empty() || s.size() > 32 || !is_alnum(s[0])) return false;
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return is_alnum(c) || c == '_' || c == '-' || c == '.'; });
}

// TXT ext-value = 1*(%x21-3A / %x3C / %x3E-7E): printable, no ";" and no "=".
bool is_txt_ext_value(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return c >= 0x21 && c <= 0x7e && c != ';' && c != '=';
    });
}

// A short, printable quote of hostile text for an error message.
std::string quoted(std::string_view s) {
    std::string out = "\"";
    for (char c : s.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    return out + (s.size() > 64 ? "...\"" : "\"");
}

// "<version> *(; field) [;]" split into its fields, or an error. `version` must be
// followed by a delimiter or the end; a field is never empty (no ";;").
Parsed<std::vector<std::string_view>> txt_fields(std::string_view txt, std::string_view version) {
    Parsed<std::vector<std::string_view>> r;
    if (txt.substr(0, version.size()) != version) {
        r.error = "does not begin \"" + std::string(version) + "\"";
        return r;
    }
    std::vector<std::string_view> fields;
    std::string_view rest = txt.substr(version.size());
    if (!rest.empty() && trim_wsp(rest).substr(0, 1) != ";") {
        r.error = "no \";\" after \"" + std::string(version) + "\"";
        return r;
    }
    rest = trim_wsp(rest);
    while (!rest.empty()) {
        rest.remove_prefix(1);  // the ";"
        auto end = std::min(rest.find(';'), rest.size());
        auto field = trim_wsp(rest.substr(0, end));
        rest = rest.substr(end);
        if (field.empty() && !rest.empty()) {
            r.error = "an empty field (\";;\")";
            return r;
        }
        if (!field.empty()) fields.push_back(field);
    }
    r.value = std::move(fields);
    return r;
}

// A record whose text begins with `version` and then a delimiter or nothing.
bool has_version(std::string_view txt, std::string_view version) {
    if (txt.substr(0, version.size()) != version) return false;
    return txt.size() == version.size() || txt[version.size()] == ';' ||
           is_wsp(txt[version.size()]);
}

template <typename T, typename Parse>
Parsed<T> choose_one(const std::vector<std::string>& txts, std::string_view version, Parse parse) {
    const std::string* found = nullptr;
    std::size_t n = 0;
    for (const auto& t : txts) {
        if (!has_version(t, version)) continue;
        found = &t;
        ++n;
    }
    if (n == 1) return parse(*found);
    Parsed<T> r;
    r.error = n == 0 ? "no \"" + std::string(version) + "\" record"
                     : std::to_string(n) + " \"" + std::string(version) +
                           "\" records, where exactly one is allowed";
    return r;
}

// The policy's lines (LF or CRLF; the last may end without one), or an error: a policy
// holds only printable ASCII and tabs, and no empty line.
Parsed<std::vector<std::string_view>> policy_lines(std::string_view body) {
    Parsed<std::vector<std::string_view>> r;
    if (body.size() > kStsMaxPolicyBytes) {
        r.error = "larger than " + std::to_string(kStsMaxPolicyBytes) + " bytes";
        return r;
    }
    std::vector<std::string_view> lines;
    while (!body.empty()) {
        auto end = body.find('\n');
        auto line = body.substr(0, end);
        body = end == body.npos ? std::string_view{} : body.substr(end + 1);
        if (end != body.npos && !line.empty() && line.back() == '\r') line.remove_suffix(1);
        auto at = "line " + std::to_string(lines.size() + 1);
        if (line.empty()) {
            r.error = at + " is empty";
            return r;
        }
        for (char c : line)
            if ((c < 0x20 && c != '\t') || c >= 0x7f) {
                r.error = at + " has a control or non-ASCII byte";
                return r;
            }
        lines.push_back(line);
    }
    if (lines.empty())
        r.error = "empty";
    else
        r.value = std::move(lines);
    return r;
}

// The policy's fields by key, each checked for its own syntax.
struct PolicyFields {
    std::optional<std::string_view> version, mode, max_age;
    std::vector<std::string_view> mx;
};

// sts-policy-ext-value = sts-policy-vchar *(*WSP sts-policy-vchar)
bool is_policy_ext_value(std::string_view v) {
    return !v.empty() && !is_wsp(v.front()) && !is_wsp(v.back());
}

// One "key:" *WSP value *WSP line into `f`; an error text or "".
std::string read_policy_line(std::string_view line, PolicyFields& f) {
    auto colon = line.find(':');
    if (colon == line.npos) return "no \":\" in " + quoted(line);
    auto key = line.substr(0, colon);
    auto value = trim_wsp(line.substr(colon + 1));
    auto once = [&](std::optional<std::string_view>& slot) -> std::string {
        if (slot) return "a second " + std::string(key);
        slot = value;
        return "";
    };
    if (key == "version") return once(f.version);
    if (key == "mode") return once(f.mode);
    if (key == "max_age") return once(f.max_age);
    if (key == "mx") {
        f.mx.push_back(value);
        return "";
    }
    if (!is_ext_name(key)) return "a malformed key " + quoted(key);
    if (!is_policy_ext_value(value)) return "no value for " + quoted(key);
    return "";  // an extension: ignored (RFC 8461 §3.2)
}

std::optional<StsMode> mode_of(std::string_view v) {
    if (v == "enforce") return StsMode::enforce;
    if (v == "testing") return StsMode::testing;
    if (v == "none") return StsMode::none;
    return std::nullopt;
}

// sts-policy-mx-value = ["*."] sts-policy-domain; an error text or "".
std::string mx_pattern_error(std::string_view v) {
    auto name = v.substr(0, 2) == "*." ? v.substr(2) : v;
    if (name.empty() || name.back() == '.') return "mx " + quoted(v) + " is not a host name";
    if (auto e = domain_name_error(name)) return "mx " + quoted(v) + ": " + *e;
    return "";
}

// The fields checked against each other into a policy.
Parsed<StsPolicy> policy_of(const PolicyFields& f) {
    Parsed<StsPolicy> r;
    StsPolicy p;
    if (!f.version)
        r.error = "no version";
    else if (*f.version != "STSv1")
        r.error = "version " + quoted(*f.version) + " is not STSv1";
    else if (!f.mode)
        r.error = "no mode";
    else if (auto m = mode_of(*f.mode))
        p.mode = *m;
    else
        r.error = "mode " + quoted(*f.mode) + " is not enforce, testing or none";
    if (!r.error.empty()) return r;
    // sts-policy-max-age-value = 1*10(DIGIT), at most one year
    std::uint64_t age = 0;
    auto v = f.max_age.value_or("");
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), age);
    if (!f.max_age)
        r.error = "no max_age";
    else if (v.empty() || v.size() > 10 || ec != std::errc{} || end != v.data() + v.size())
        r.error = "max_age " + quoted(v) + " is not a number of seconds";
    else if (age > kStsMaxAge)
        r.error = "max_age " + std::string(v) + " is over one year";
    else if (f.mx.empty() && p.mode != StsMode::none)
        r.error = "no mx";
    for (auto mx : f.mx)
        if (r.error.empty()) r.error = mx_pattern_error(mx);
    if (!r.error.empty()) return r;
    p.max_age = static_cast<std::uint32_t>(age);
    for (auto mx : f.mx) p.mx.push_back(normalize_name(mx));
    r.value = std::move(p);
    return r;
}

// tlsrpt-uri = URI, with "," and ";" percent-encoded: a scheme, ":", printable bytes.
bool is_uri(std::string_view u) {
    auto colon = u.find(':');
    if (colon == 0 || colon == u.npos || colon + 1 == u.size() || !is_alnum(u[0])) return false;
    for (char c : u.substr(0, colon))
        if (!is_alnum(c) && c != '+' && c != '-' && c != '.') return false;
    return std::all_of(u.begin() + colon + 1, u.end(),
                       [](char c) { return c >= 0x21 && c <= 0x7e && c != ',' && c != ';'; });
}

// The rua value's addresses (split on ",", WSP around), or an error text in `error`.
std::vector<std::string> rua_addresses(std::string_view value, std::string& error) {
    std::vector<std::string> out;
    while (error.empty()) {
        auto end = std::min(value.find(','), value.size());
        auto uri = trim_wsp(value.substr(0, end));
        if (!is_uri(uri))
            error = "rua " + quoted(uri) + " is not a URI";
        else if (uri.substr(0, 7) == "mailto:" || uri.substr(0, 8) == "https://")
            out.emplace_back(uri);  // other schemes: none we can send to, skipped
        if (end == value.size()) break;
        value = value.substr(end + 1);
    }
    return out;
}

}  // namespace

const char* to_string(StsMode m) {
    switch (m) {
        case StsMode::enforce:
            return "enforce";
        case StsMode::testing:
            return "testing";
        case StsMode::none:
            return "none";
    }
    return "none";
}

Parsed<StsRecord> parse_sts_record(std::string_view txt) {
    Parsed<StsRecord> r;
    auto fields = txt_fields(txt, "v=STSv1");
    if (!fields) {
        r.error = fields.error;
        return r;
    }
    std::optional<std::string> id;
    for (auto f : *fields.value) {
        auto eq = f.find('=');
        auto name = f.substr(0, eq), value = eq == f.npos ? std::string_view{} : f.substr(eq + 1);
        if (name == "id") {
            // sts-id = %s"id=" 1*32(ALPHA / DIGIT)
            if (id)
                r.error = "a second id";
            else if (value.empty() || value.size() > 32 ||
                     !std::all_of(value.begin(), value.end(), is_alnum))
                r.error = "id " + quoted(value) + " is not 1 to 32 letters and digits";
            else
                id = std::string(value);
        } else if (eq == f.npos || !is_ext_name(name) || !is_txt_ext_value(value)) {
            r.error = "a malformed field " + quoted(f);
        }
        if (!r.error.empty()) return r;
    }
    if (!id)
        r.error = "no id";
    else
        r.value = StsRecord{std::move(*id)};
    return r;
}

Parsed<StsRecord> choose_sts_record(const std::vector<std::string>& txts) {
    return choose_one<StsRecord>(txts, "v=STSv1", parse_sts_record);
}

Parsed<StsPolicy> parse_sts_policy(std::string_view body) {
    Parsed<StsPolicy> r;
    auto lines = policy_lines(body);
    if (!lines) {
        r.error = lines.error;
        return r;
    }
    PolicyFields f;
    for (std::size_t i = 0; i < lines.value->size(); ++i)
        if (auto e = read_policy_line((*lines.value)[i], f); !e.empty()) {
            r.error = "line " + std::to_string(i + 1) + ": " + e;
            return r;
        }
    return policy_of(f);
}

bool sts_mx_matches(std::string_view pattern, std::string_view host) {
    std::string h = normalize_name(host), p = normalize_name(pattern);
    if (p.substr(0, 2) != "*.") return !h.empty() && h == p;
    std::string_view suffix = std::string_view(p).substr(1);  // ".example.com"
    if (h.size() <= suffix.size() || !h.ends_with(suffix)) return false;
    auto label = std::string_view(h).substr(0, h.size() - suffix.size());
    return label.find('.') == label.npos;
}

bool sts_policy_allows(const StsPolicy& p, std::string_view host) {
    return std::any_of(p.mx.begin(), p.mx.end(),
                       [&](const std::string& pattern) { return sts_mx_matches(pattern, host); });
}

Parsed<TlsrptRecord> parse_tlsrpt_record(std::string_view txt) {
    Parsed<TlsrptRecord> r;
    auto fields = txt_fields(txt, "v=TLSRPTv1");
    if (!fields) {
        r.error = fields.error;
        return r;
    }
    std::optional<std::vector<std::string>> rua;
    for (auto f : *fields.value) {
        auto eq = f.find('=');
        auto name = f.substr(0, eq), value = eq == f.npos ? std::string_view{} : f.substr(eq + 1);
        if (name == "rua") {
            if (rua)
                r.error = "a second rua";
            else
                rua = rua_addresses(value, r.error);
        } else if (eq == f.npos || !is_ext_name(name) || !is_txt_ext_value(value)) {
            r.error = "a malformed field " + quoted(f);
        }
        if (!r.error.empty()) return r;
    }
    if (!rua)
        r.error = "no rua";
    else if (rua->empty())
        r.error = "no mailto: or https: address in rua";
    else
        r.value = TlsrptRecord{std::move(*rua)};
    return r;
}

Parsed<TlsrptRecord> choose_tlsrpt_record(const std::vector<std::string>& txts) {
    return choose_one<TlsrptRecord>(txts, "v=TLSRPTv1", parse_tlsrpt_record);
}

}  // namespace dr::dane
