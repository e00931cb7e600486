// The pure part of `dane-relay check --survey` (relay/cli/survey.hpp): the domain list's
// lines, the category of a hand-made DomainReport (expectations from SPEC §5 and §11: what
// a sender enforcing DANE does with the domain), the output line read back, the tally.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "relay/cli/survey.hpp"

namespace dr::relay {
namespace {

using dane::Security;
using dane::TlsRequirement;
using Kind = DomainLine::Kind;

TEST(SurveyLine, SkipsBlankAndComments) {
    for (const char* l : {"", "   ", "\t", "# a comment", "   # indented", "\r"})
        EXPECT_EQ(parse_domain_line(l).kind, Kind::skip) << l;
}

TEST(SurveyLine, DomainsAreNormalized) {
    auto d = parse_domain_line("  Example.ORG.  # trailing comment\r");
    EXPECT_EQ(d.kind, Kind::domain);
    EXPECT_EQ(d.domain, "example.org");
    EXPECT_EQ(parse_domain_line("example.org\r\n").domain, "example.org");
}

TEST(SurveyLine, JunkSaysWhy) {
    for (const char* l : {"not a domain!", "127.0.0.1", "[192.0.2.1]", "a..b", "x y.test"}) {
        auto d = parse_domain_line(l);
        EXPECT_EQ(d.kind, Kind::junk) << l;
        EXPECT_FALSE(d.why.empty()) << l;
    }
    EXPECT_EQ(parse_domain_line(std::string(300, 'a')).kind, Kind::junk);
    EXPECT_EQ(parse_domain_line(std::string("a\0b.test", 8)).kind, Kind::junk);
}

dane::HostResult host(const std::string& name, TlsRequirement tls) {
    dane::HostResult h;
    h.plan.host = name;
    h.plan.tls = tls;
    return h;
}

DomainReport report(Security mx, std::vector<dane::HostResult> hosts, Verdict v) {
    DomainReport r;
    r.domain = "example.test";
    r.destination.domain = "example.test";
    r.destination.mx_plan.mx_security = mx;
    r.destination.hosts = std::move(hosts);
    r.verdict = std::move(v);
    return r;
}

Verdict deliver(dane::TlsTrust trust, bool tls = true) {
    Verdict v{Verdict::Action::deliver, "2.0.0", "", "mx.example.test", "192.0.2.1"};
    v.trust = trust;
    v.tls = tls;
    return v;
}

Verdict defer(std::string dsn, std::string reason) {
    return Verdict{Verdict::Action::defer, std::move(dsn), std::move(reason)};
}

TEST(SurveyCategory, Delivered) {
    auto dane = host("mx.example.test", TlsRequirement::dane);
    auto may = host("mx.example.test", TlsRequirement::may);
    EXPECT_EQ(survey_category(report(Security::secure, {dane}, deliver(dane::TlsTrust::verified))),
              SurveyCategory::dane_verified);
    EXPECT_EQ(survey_category(report(Security::insecure, {dane}, deliver(dane::TlsTrust::trusted))),
              SurveyCategory::dane_trusted);
    EXPECT_EQ(survey_category(report(Security::secure, {may}, deliver(dane::TlsTrust::untrusted))),
              SurveyCategory::dnssec_no_dane);
    EXPECT_EQ(survey_category(
                  report(Security::insecure, {may}, deliver(dane::TlsTrust::anonymous, false))),
              SurveyCategory::no_dnssec);
    // PKIX "verify" by local policy is Verified, but not DANE.
    auto verify = host("mx.example.test", TlsRequirement::verify);
    EXPECT_EQ(
        survey_category(report(Security::insecure, {verify}, deliver(dane::TlsTrust::verified))),
        SurveyCategory::no_dnssec);
}

TEST(SurveyCategory, NotDelivered) {
    auto dane = host("mx.example.test", TlsRequirement::dane);
    auto may = host("mx.example.test", TlsRequirement::may);
    auto failed = host("mx.example.test", TlsRequirement::dane);
    failed.plan.failure = dane::Failure{false, "4.7.5", "TLSA lookup error for mx.example.test:25"};
    Verdict bounce{Verdict::Action::bounce, "5.1.10", "nullMX"};
    EXPECT_EQ(survey_category(report(Security::secure, {}, bounce)), SurveyCategory::no_mail);
    auto mx_failed = report(Security::bogus, {}, defer("4.4.3", "Name service error"));
    mx_failed.destination.mx_plan.failure = dane::Failure{false, "4.4.3", "Name service error"};
    EXPECT_EQ(survey_category(mx_failed), SurveyCategory::dns_failure);
    EXPECT_EQ(survey_category(report(Security::secure, {failed}, defer("4.7.5", "TLSA"))),
              SurveyCategory::dns_failure);
    EXPECT_EQ(survey_category(report(Security::secure, {dane}, defer("4.7.5", "not verified"))),
              SurveyCategory::dane_failing);
    // A DANE host failing beside a host whose TLSA lookup failed: DANE is failing.
    EXPECT_EQ(
        survey_category(report(Security::secure, {failed, dane}, defer("4.7.5", "not verified"))),
        SurveyCategory::dane_failing);
    EXPECT_EQ(survey_category(report(Security::secure, {may}, defer("4.4.1", "refused"))),
              SurveyCategory::unreachable);
    // dane-only policy for a domain without DANE: no host usable, not a DNS failure.
    auto policy = host("mx.example.test", TlsRequirement::dane);
    policy.plan.failure = dane::Failure{false, "4.7.5", "non DNSSEC destination"};
    EXPECT_EQ(survey_category(report(Security::insecure, {policy}, defer("4.7.5", "non"))),
              SurveyCategory::dane_failing);
}

TEST(SurveyOutput, LineReadsBack) {
    auto r = report(Security::secure, {host("mx.example.test", TlsRequirement::dane)},
                    deliver(dane::TlsTrust::verified));
    std::string line = survey_line(r);
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1);
    auto rec = read_survey_line(std::string_view(line).substr(0, line.size() - 1));
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->domain, "example.test");
    EXPECT_EQ(rec->category, SurveyCategory::dane_verified);
    EXPECT_EQ(rec->level, "Verified");
    // Torn or foreign lines are not survey lines.
    EXPECT_FALSE(read_survey_line(std::string_view(line).substr(0, line.size() / 2)));
    EXPECT_FALSE(read_survey_line(R"({"domain":"x.test","category":"nonsense","level":""})"));
    EXPECT_FALSE(read_survey_line(R"({"domain":"x.test"})"));
    EXPECT_FALSE(read_survey_line("[]"));
}

TEST(SurveyTally, CountsAndShows) {
    SurveyTally t;
    t.add(SurveyCategory::dane_verified, "Verified");
    t.add(SurveyCategory::dane_verified, "Verified");
    t.add(SurveyCategory::dns_failure, "");
    for (int i = 1; i <= 12; ++i) t.add_bad(i, std::string(200, '\x01'), "why");
    EXPECT_EQ(t.domains(), 3u);
    EXPECT_EQ(t.bad_lines, 12u);
    EXPECT_EQ(t.bad_examples.size(), SurveyTally::kMaxExamples);
    std::string text = render_tally(t);
    EXPECT_NE(text.find("DANE verified                                     2   66.7%"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("Verified 2, Trusted 0"), std::string::npos) << text;
    EXPECT_NE(text.find("... and 2 more bad lines"), std::string::npos) << text;
    auto j = boost::json::parse(boost::json::serialize(tally_json(t))).as_object();
    EXPECT_EQ(j["categories"].as_object()["dane-verified"].to_number<std::uint64_t>(), 2u);
    EXPECT_EQ(j["categories"].as_object()["unreachable"].to_number<std::uint64_t>(), 0u);
    EXPECT_EQ(j["bad_lines"].to_number<std::uint64_t>(), 12u);
}

TEST(SurveyCategory, KeysRoundTrip) {
    for (std::size_t i = 0; i < kSurveyCategories; ++i) {
        auto c = static_cast<SurveyCategory>(i);
        EXPECT_EQ(category_from_key(key_of(c)), c);
    }
}

}  // namespace
}  // namespace dr::relay
