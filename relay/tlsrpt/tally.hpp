// SMTP TLS Reporting (RFC 8460) counts, pure: what one day's sessions showed per policy
// domain and policy, the file the counts are kept in (to_json/from_json), and the report a
// domain gets (RFC 8460 §4.4, report_json()). Entry points: Tally::add(), report_json().
// No I/O: store.hpp keeps tallies on disk, classify.hpp turns attempts into outcomes.
#pragma once

#include <boost/json/value.hpp>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dr::relay::tlsrpt {

// RFC 8460 §4.4 "policy-type".
enum class PolicyType { tlsa, sts, no_policy_found };
const char* to_string(PolicyType t);  // "tlsa", "sts", "no-policy-found"
std::optional<PolicyType> parse_policy_type(std::string_view s);

// The policy a session was made under: its type, the records or policy lines
// ("policy-string") and, for sts, the policy's mx patterns ("mx-host").
struct PolicyKey {
    PolicyType type = PolicyType::no_policy_found;
    std::vector<std::string> strings;
    std::vector<std::string> mx_hosts;
    auto operator<=>(const PolicyKey&) const = default;
};

// One kind of failure (RFC 8460 §4.3: "result-type", with the MX and address it happened at).
struct FailureKey {
    std::string result_type;   // "certificate-not-trusted", "validation-failure", …
    std::string receiving_mx;  // "receiving-mx-hostname", "" when unknown
    std::string receiving_ip;  // "receiving-ip"
    std::string reason;        // "failure-reason-code": the TLS error message
    auto operator<=>(const FailureKey&) const = default;
};

struct PolicyCounts {
    std::uint64_t successes = 0;
    std::map<FailureKey, std::uint64_t> failures;
    std::uint64_t failure_total() const;
};

// What one session (or, for a policy failure, one attempt) showed.
struct SessionOutcome {
    std::string domain;  // the policy domain (the recipient domain)
    PolicyKey policy;
    std::optional<FailureKey> failure;  // unset: a successful TLS session
};

// One UTC day's counts.
class Tally {
  public:
    void add(const SessionOutcome& o, std::uint64_t n = 1);
    void merge(const Tally& other);  // adds every count of `other`
    bool empty() const { return domains_.empty(); }
    const std::map<std::string, std::map<PolicyKey, PolicyCounts>>& domains() const {
        return domains_;
    }

    // The counts as kept on disk; from_json() refuses (nullopt, `error`) anything else.
    boost::json::value to_json() const;
    static std::optional<Tally> from_json(const boost::json::value& v, std::string& error);

  private:
    std::map<std::string, std::map<PolicyKey, PolicyCounts>> domains_;
};

struct ReportOptions {
    std::string organization;  // "organization-name"
    std::string contact;       // "contact-info"
    std::string report_id;     // "report-id", unique per report
};

// RFC 8460 §4.4: the report for `domain` over UTC day `day` ("2026-12-03"); nullopt when the
// tally has nothing for the domain.
std::optional<boost::json::value> report_json(const Tally& t, const std::string& domain,
                                              const std::string& day, const ReportOptions& o);

// "2026-12-03" for Unix time `t` (UTC).
std::string utc_day(std::int64_t t);

}  // namespace dr::relay::tlsrpt
