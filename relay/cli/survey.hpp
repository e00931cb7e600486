// The pure part of `dane-relay check --survey FILE` (SPEC §11): what one line of the
// domain list is, which survey category a check report falls in, the JSON line written
// per domain and how a resumed survey reads it back, and the tally (counts only, so a
// list of 1,000,000 domains costs no more memory than one of ten).
// Entry points: parse_domain_line(), survey_category(), survey_line(),
// read_survey_line(), SurveyTally, render_tally(), tally_json().
#pragma once

#include <array>
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/cli/check.hpp"

namespace dr::relay {

// One category per domain, from what a DANE sender (SPEC §5) would do with it now.
enum class SurveyCategory {
    dane_verified,   // delivered over TLS matched to secure TLSA at a signed MX: "Verified"
    dane_trusted,    // the same behind an unsigned MX RRset (half-DANE): "Trusted"
    dane_failing,    // secure usable TLSA, yet no host passes (mismatch, no STARTTLS...)
    dnssec_no_dane,  // signed MX RRset, no usable TLSA: opportunistic or unauthenticated TLS
    no_dnssec,       // unsigned MX RRset: no DANE possible
    dns_failure,     // a lookup failed (bogus, SERVFAIL, timeout): every sender defers
    no_mail,         // the domain takes no mail: null MX, NXDOMAIN (bounce)
    unreachable,     // no DANE required, and no host answered (connection failures)
};
inline constexpr std::size_t kSurveyCategories = 8;
const char* key_of(SurveyCategory c);    // "dane-verified", ...
const char* title_of(SurveyCategory c);  // "DANE verified", ...
std::optional<SurveyCategory> category_from_key(std::string_view key);

SurveyCategory survey_category(const DomainReport& r);

// The TLS level of a delivered domain ("Verified", "Trusted", "Untrusted", "Anonymous",
// "plaintext"); "" when the verdict is not delivery.
std::string delivered_level(const DomainReport& r);

// A line of the domain list: blank and "# comment" lines (after trimming; a comment may
// also end a line) are skipped; anything else is a domain name or junk, with why.
struct DomainLine {
    enum class Kind { skip, domain, junk } kind = Kind::skip;
    std::string domain;  // normalized (lower case, no final dot)
    std::string why;     // junk: why it is not a domain name
};
DomainLine parse_domain_line(std::string_view line);

// The output line for one domain, '\n' included: check's REPORT (relay/cli/CHECK.md) with
// "category" and "level" (delivered_level()) added.
std::string survey_line(const DomainReport& r);

// What a line of an earlier run's output says; nullopt when it is not a whole survey line.
struct SurveyRecord {
    std::string domain;
    SurveyCategory category = SurveyCategory::unreachable;
    std::string level;
};
std::optional<SurveyRecord> read_survey_line(std::string_view line);

struct SurveyTally {
    std::array<std::uint64_t, kSurveyCategories> categories{};
    std::map<std::string, std::uint64_t> levels;  // delivered domains by TLS level
    std::uint64_t checked = 0;                    // in this run
    std::uint64_t resumed = 0;                    // read back from an earlier run's output
    std::uint64_t bad_lines = 0;                  // junk in the domain list
    std::uint64_t duplicates = 0;                 // a domain listed again (checked once)
    std::uint64_t unreadable = 0;           // lines of the output file that are no survey line
    std::vector<std::string> bad_examples;  // the first kMaxExamples bad lines, with why

    static constexpr std::size_t kMaxExamples = 10;
    void add(SurveyCategory c, const std::string& level);
    void add_bad(std::uint64_t line_number, std::string_view line, const std::string& why);
    std::uint64_t domains() const;  // categorized: checked + resumed
};

// `text` cut to `max` bytes ("..." after), control and non-ASCII bytes shown as '?'.
std::string printable(std::string_view text, std::size_t max);

std::string render_tally(const SurveyTally& t);
boost::json::value tally_json(const SurveyTally& t);

}  // namespace dr::relay
