#include "relay/tlsrpt/tally.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <ctime>
#include <numeric>

namespace dr::relay::tlsrpt {

namespace json = boost::json;

const char* to_string(PolicyType t) {
    switch (t) {
        case PolicyType::tlsa:
            return "tlsa";
        case PolicyType::sts:
            return "sts";
        case PolicyType::no_policy_found:
            break;
    }
    return "no-policy-found";
}

std::optional<PolicyType> parse_policy_type(std::string_view s) {
    for (auto t : {PolicyType::tlsa, PolicyType::sts, PolicyType::no_policy_found})
        if (s == to_string(t)) return t;
    return std::nullopt;
}

std::uint64_t PolicyCounts::failure_total() const {
    return std::accumulate(failures.begin(), failures.end(), std::uint64_t{0},
                           [](std::uint64_t n, const auto& f) { return n + f.second; });
}

void Tally::add(const SessionOutcome& o, std::uint64_t n) {
    auto& counts = domains_[o.domain][o.policy];
    if (o.failure)
        counts.failures[*o.failure] += n;
    else
        counts.successes += n;
}

void Tally::merge(const Tally& other) {
    for (const auto& [domain, policies] : other.domains_)
        for (const auto& [p, c] : policies) {
            auto& mine = domains_[domain][p];
            mine.successes += c.successes;
            for (const auto& [f, n] : c.failures) mine.failures[f] += n;
        }
}

std::string utc_day(std::int64_t t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
}

namespace {

json::array strings(const std::vector<std::string>& v) {
    json::array a;
    for (const auto& s : v) a.push_back(json::value(s));
    return a;
}

// RFC 8460 §4.4 "policy": the keys as the report names them (the file uses the same).
json::object policy_json(const std::string& domain, const PolicyKey& p) {
    json::object o{{"policy-type", to_string(p.type)}, {"policy-domain", domain}};
    if (!p.strings.empty()) o["policy-string"] = strings(p.strings);
    if (!p.mx_hosts.empty()) o["mx-host"] = strings(p.mx_hosts);
    return o;
}

json::object failure_json(const FailureKey& f, std::uint64_t n) {
    json::object o{{"result-type", f.result_type}, {"failed-session-count", n}};
    if (!f.receiving_mx.empty()) o["receiving-mx-hostname"] = f.receiving_mx;
    if (!f.receiving_ip.empty()) o["receiving-ip"] = f.receiving_ip;
    if (!f.reason.empty()) o["failure-reason-code"] = f.reason;
    return o;
}

json::object counts_json(const std::string& domain, const PolicyKey& p, const PolicyCounts& c) {
    json::array failures;
    for (const auto& [f, n] : c.failures) failures.push_back(failure_json(f, n));
    json::object o{{"policy", policy_json(domain, p)},
                   {"summary",
                    {{"total-successful-session-count", c.successes},
                     {"total-failure-session-count", c.failure_total()}}}};
    if (!failures.empty()) o["failure-details"] = std::move(failures);
    return o;
}

}  // namespace

json::value Tally::to_json() const {
    json::object out{{"version", 1}};
    json::array all;
    for (const auto& [domain, policies] : domains_)
        for (const auto& [p, c] : policies) all.push_back(counts_json(domain, p, c));
    out["policies"] = std::move(all);
    return out;
}

std::optional<boost::json::value> report_json(const Tally& t, const std::string& domain,
                                              const std::string& day, const ReportOptions& o) {
    auto it = t.domains().find(domain);
    if (it == t.domains().end()) return std::nullopt;
    json::array policies;
    for (const auto& [p, c] : it->second) policies.push_back(counts_json(domain, p, c));
    return json::object{
        {"organization-name", o.organization},
        {"date-range",
         {{"start-datetime", day + "T00:00:00Z"}, {"end-datetime", day + "T23:59:59Z"}}},
        {"contact-info", o.contact},
        {"report-id", o.report_id},
        {"policies", std::move(policies)}};
}

}  // namespace dr::relay::tlsrpt
