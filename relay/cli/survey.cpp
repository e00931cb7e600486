// See survey.hpp.
#include "relay/cli/survey.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>

#include "dane/dns.hpp"

namespace dr::relay {

namespace json = boost::json;

namespace {

struct CategoryName {
    const char* key;
    const char* title;
};

constexpr std::array<CategoryName, kSurveyCategories> kNames{{
    {"dane-verified", "DANE verified"},
    {"dane-trusted", "DANE trusted (half-DANE: unsigned MX)"},
    {"dane-failing", "DANE failing (senders defer)"},
    {"dnssec-no-dane", "DNSSEC without usable TLSA"},
    {"no-dnssec", "no DNSSEC"},
    {"dns-failure", "DNS failure (bogus, SERVFAIL, timeout)"},
    {"no-mail", "no mail (null MX, NXDOMAIN)"},
    {"unreachable", "unreachable (no DANE, no host answered)"},
}};

// The lookup failures of SPEC §6 (dane/policy.cpp failures::dns, tlsa_error).
bool is_dns_failure(const dane::Failure& f) {
    return f.reason.find("Name service error") != std::string::npos ||
           f.reason.find("TLSA lookup error") != std::string::npos;
}

const dane::HostPlan* delivering_plan(const DomainReport& r) {
    for (const auto& h : r.destination.hosts)
        if (!h.plan.failure && h.plan.host == r.verdict.host) return &h.plan;
    return nullptr;
}

SurveyCategory delivered_category(const DomainReport& r) {
    const auto* plan = delivering_plan(r);
    if (plan && plan->tls == dane::TlsRequirement::dane && r.verdict.tls) {
        if (r.verdict.trust == dane::TlsTrust::verified) return SurveyCategory::dane_verified;
        if (r.verdict.trust == dane::TlsTrust::trusted) return SurveyCategory::dane_trusted;
    }
    return r.destination.mx_plan.mx_security == dane::Security::secure
               ? SurveyCategory::dnssec_no_dane
               : SurveyCategory::no_dnssec;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

}  // namespace

std::string printable(std::string_view text, std::size_t max) {
    std::string out(text.substr(0, max));
    for (char& ch : out)
        if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f)
            ch = '?';
    if (text.size() > max) out += "...";
    return out;
}

const char* key_of(SurveyCategory c) {
    return kNames[static_cast<std::size_t>(c)].key;
}
const char* title_of(SurveyCategory c) {
    return kNames[static_cast<std::size_t>(c)].title;
}

std::optional<SurveyCategory> category_from_key(std::string_view key) {
    for (std::size_t i = 0; i < kNames.size(); ++i)
        if (key == kNames[i].key) return static_cast<SurveyCategory>(i);
    return std::nullopt;
}

SurveyCategory survey_category(const DomainReport& r) {
    using Action = Verdict::Action;
    if (r.verdict.action == Action::bounce) return SurveyCategory::no_mail;
    if (r.verdict.action == Action::deliver) return delivered_category(r);
    if (r.destination.mx_plan.failure) return SurveyCategory::dns_failure;
    bool dane = false, dns = false, tried = false;
    for (const auto& h : r.destination.hosts) {
        if (h.plan.failure) {
            dns |= is_dns_failure(*h.plan.failure);
            continue;
        }
        tried = true;
        dane |= h.plan.tls == dane::TlsRequirement::dane;
    }
    if (dane) return SurveyCategory::dane_failing;
    // No host could be tried: lookups failed, or the policy wants DANE the domain lacks.
    if (!tried) return dns ? SurveyCategory::dns_failure : SurveyCategory::dane_failing;
    return SurveyCategory::unreachable;
}

std::string delivered_level(const DomainReport& r) {
    if (r.verdict.action != Verdict::Action::deliver) return "";
    return r.verdict.tls ? dane::to_string(r.verdict.trust) : "plaintext";
}

DomainLine parse_domain_line(std::string_view line) {
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    DomainLine out;
    if (line.empty()) return out;
    if (auto why = dane::domain_name_error(line)) {
        out.kind = DomainLine::Kind::junk;
        out.why = *why;
        return out;
    }
    out.kind = DomainLine::Kind::domain;
    out.domain = dane::normalize_name(line);
    return out;
}

std::string survey_line(const DomainReport& r) {
    json::object o = to_json(r).as_object();
    o["category"] = key_of(survey_category(r));
    o["level"] = delivered_level(r);
    std::string line = json::serialize(o);
    line += '\n';
    return line;
}

std::optional<SurveyRecord> read_survey_line(std::string_view line) {
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.as_object();
    auto* domain = o.if_contains("domain");
    auto* category = o.if_contains("category");
    auto* level = o.if_contains("level");
    if (!domain || !category || !level || !domain->is_string() || !category->is_string() ||
        !level->is_string())
        return std::nullopt;
    auto c = category_from_key(category->as_string());
    if (!c || domain->as_string().empty()) return std::nullopt;
    return SurveyRecord{std::string(domain->as_string()), *c, std::string(level->as_string())};
}

void SurveyTally::add(SurveyCategory c, const std::string& level) {
    ++categories[static_cast<std::size_t>(c)];
    if (!level.empty()) ++levels[level];
}

void SurveyTally::add_bad(std::uint64_t line_number, std::string_view line,
                          const std::string& why) {
    ++bad_lines;
    if (bad_examples.size() >= kMaxExamples) return;
    std::string text = "line " + std::to_string(line_number) + ": \"";
    text += printable(line, 80);
    text += "\": ";
    text += printable(why, 120);
    bad_examples.push_back(std::move(text));
}

std::uint64_t SurveyTally::domains() const {
    std::uint64_t n = 0;
    for (auto c : categories) n += c;
    return n;
}

std::string render_tally(const SurveyTally& t) {
    std::string out;
    char buf[160];
    const std::uint64_t total = t.domains();
    auto row = [&](const char* name, std::uint64_t n) {
        double pct = total ? 100.0 * static_cast<double>(n) / static_cast<double>(total) : 0.0;
        std::snprintf(buf, sizeof buf, "  %-40s %10llu %6.1f%%\n", name,
                      static_cast<unsigned long long>(n), pct);
        out += buf;
    };
    std::snprintf(buf, sizeof buf, "  %-40s %10s %7s\n", "verdict", "domains", "share");
    out += buf;
    for (std::size_t i = 0; i < kSurveyCategories; ++i) row(kNames[i].title, t.categories[i]);
    row("total", total);
    out += "  delivered by TLS level:";
    const char* sep = " ";
    for (const char* level : {"Verified", "Trusted", "Untrusted", "Anonymous", "plaintext"}) {
        auto it = t.levels.find(level);
        out += sep;
        out += level;
        out += ' ';
        out += std::to_string(it == t.levels.end() ? 0 : it->second);
        sep = ", ";
    }
    out += '\n';
    std::snprintf(buf, sizeof buf,
                  "  checked now %llu, from the earlier output %llu, bad lines %llu, "
                  "duplicates %llu\n",
                  static_cast<unsigned long long>(t.checked),
                  static_cast<unsigned long long>(t.resumed),
                  static_cast<unsigned long long>(t.bad_lines),
                  static_cast<unsigned long long>(t.duplicates));
    out += buf;
    if (t.unreadable)
        out += "  unreadable output lines ignored (their domains redone): " +
               std::to_string(t.unreadable) + "\n";
    for (const auto& b : t.bad_examples) out += "  bad " + b + "\n";
    if (t.bad_lines > t.bad_examples.size())
        out += "  ... and " + std::to_string(t.bad_lines - t.bad_examples.size()) +
               " more bad lines\n";
    return out;
}

json::value tally_json(const SurveyTally& t) {
    json::object cats, levels;
    for (std::size_t i = 0; i < kSurveyCategories; ++i) cats[kNames[i].key] = t.categories[i];
    for (const auto& [level, n] : t.levels) levels[level] = n;
    json::array bad;
    for (const auto& b : t.bad_examples) bad.push_back(json::value(b));
    return json::object{{"domains", t.domains()},
                        {"categories", std::move(cats)},
                        {"levels", std::move(levels)},
                        {"checked", t.checked},
                        {"resumed", t.resumed},
                        {"bad_lines", t.bad_lines},
                        {"bad_examples", std::move(bad)},
                        {"duplicates", t.duplicates},
                        {"unreadable_output_lines", t.unreadable}};
}

}  // namespace dr::relay
