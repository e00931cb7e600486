// TLSRPT (RFC 8460), pure: the counts, their file round trip, the report's shape, and what
// an attempt counts as (relay/tlsrpt/tally.hpp, classify.hpp).
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "relay/tlsrpt/classify.hpp"
#include "relay/tlsrpt/report_mail.hpp"
#include "relay/tlsrpt/tally.hpp"

namespace dr::relay::tlsrpt {
namespace {

namespace json = boost::json;

PolicyKey sts_policy() {
    return PolicyKey{PolicyType::sts, {"version: STSv1", "mode: enforce"}, {"mx.a.test"}};
}

Tally sample() {
    Tally t;
    t.add({"a.test", sts_policy(), std::nullopt}, 3);
    t.add({"a.test", sts_policy(),
           FailureKey{"certificate-expired", "mx.a.test", "192.0.2.1", "certificate has expired"}});
    t.add({"b.test", PolicyKey{}, std::nullopt});
    return t;
}

TEST(Tlsrpt, TheFileReadsBackAsWritten) {
    const auto t = sample();
    std::string error;
    auto back = Tally::from_json(json::parse(json::serialize(t.to_json())), error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(json::serialize(back->to_json()), json::serialize(t.to_json()));
    Tally twice = t;
    twice.merge(*back);
    EXPECT_EQ(twice.domains().at("a.test").at(sts_policy()).successes, 6u);
}

TEST(Tlsrpt, ABadFileIsRefusedWithWhy) {
    for (auto [text, why] : std::vector<std::pair<const char*, const char*>>{
             {"[]", "the file is not an object"},
             {R"({"version":2,"policies":[]})", "not version 1"},
             {R"({"version":1})", "no \"policies\""},
             {R"({"version":1,"policies":[{"policy":{"policy-type":"dane","policy-domain":"a"},
                  "summary":{"total-successful-session-count":1}}]})",
              "unknown policy-type"},
             {R"({"version":1,"policies":[{"policy":{"policy-type":"sts","policy-domain":"a"},
                  "summary":{"total-successful-session-count":-1}}]})",
              "count is not a count"},
         }) {
        std::string error;
        EXPECT_FALSE(Tally::from_json(json::parse(text), error)) << text;
        EXPECT_EQ(error, why) << text;
    }
}

// RFC 8460 §4.4: the fields and their names.
TEST(Tlsrpt, TheReportHasTheRfcShape) {
    auto r = report_json(sample(), "a.test", "2026-12-03", {"Org", "mailto:x@y.test", "id-1"});
    ASSERT_TRUE(r);
    const auto& o = r->as_object();
    EXPECT_EQ(o.at("organization-name"), "Org");
    EXPECT_EQ(o.at("contact-info"), "mailto:x@y.test");
    EXPECT_EQ(o.at("report-id"), "id-1");
    EXPECT_EQ(o.at("date-range").at("start-datetime"), "2026-12-03T00:00:00Z");
    EXPECT_EQ(o.at("date-range").at("end-datetime"), "2026-12-03T23:59:59Z");
    const auto& p = o.at("policies").as_array().at(0).as_object();
    EXPECT_EQ(p.at("policy").at("policy-type"), "sts");
    EXPECT_EQ(p.at("policy").at("policy-domain"), "a.test");
    EXPECT_EQ(p.at("policy").at("mx-host").as_array().at(0), "mx.a.test");
    EXPECT_EQ(p.at("summary").at("total-successful-session-count"), 3);
    EXPECT_EQ(p.at("summary").at("total-failure-session-count"), 1);
    const auto& f = p.at("failure-details").as_array().at(0).as_object();
    EXPECT_EQ(f.at("result-type"), "certificate-expired");
    EXPECT_EQ(f.at("receiving-mx-hostname"), "mx.a.test");
    EXPECT_EQ(f.at("receiving-ip"), "192.0.2.1");
    EXPECT_EQ(f.at("failed-session-count"), 1);
    EXPECT_FALSE(report_json(sample(), "c.test", "2026-12-03", {}));
    EXPECT_EQ(utc_day(1796256000), "2026-12-03");
}

// The report of a day with every policy type and a failure with all its fields, against the
// RFC 8460 §4.4 schema (tlsrpt_schema.json) by python3-jsonschema; a misspelt field fails.
TEST(Tlsrpt, TheReportPassesTheRfcSchema) {
    auto t = sample();
    t.add({"a.test", PolicyKey{PolicyType::tlsa, {"3 1 1 0102"}, {}},
           FailureKey{"validation-failure", "mx.a.test", "2001:db8::1", "no TLSA record matched"}});
    auto r = report_json(t, "a.test", "2026-12-03", {"Org", "mailto:x@y.test", "id-1"});
    ASSERT_TRUE(r);
    const auto dir = std::filesystem::temp_directory_path() / "tlsrpt-schema-test";
    std::filesystem::create_directories(dir);
    const auto file = (dir / "report.json").string();
    auto check = [&](const json::value& v) {
        std::ofstream(file, std::ios::binary) << json::serialize(v);
        return std::system(
            ("/usr/bin/python3 " TLSRPT_SCHEMA_CHECK_PY " " + file + " 2>/dev/null").c_str());
    };
    EXPECT_EQ(check(*r), 0);
    for (const auto* key : {"b.test", "a.test"})  // no-policy-found, and tlsa + sts
        EXPECT_EQ(check(*report_json(t, key, "2026-12-03", {"O", "c", "i"})), 0) << key;
    auto bad = *r;
    bad.as_object()["policies"].as_array().at(0).as_object()["summary"].as_object()["total"] = 1;
    EXPECT_NE(check(bad), 0);
    bad = *r;
    bad.as_object()["date-range"].as_object()["start-datetime"] = "2026-12-03";
    EXPECT_NE(check(bad), 0);
    std::filesystem::remove_all(dir);
}

dane::HostResult host(std::string name, dane::TlsRequirement tls, bool sts = false) {
    dane::HostResult h;
    h.mx = dane::MxHost{name, 10};
    h.plan.host = std::move(name);
    h.plan.tls = tls;
    h.plan.sts = sts;
    if (tls == dane::TlsRequirement::dane) h.plan.tlsa = {dane::TlsaRecord{3, 1, 1, {1, 2}}};
    return h;
}

ConnectionEvidence conn(std::string host, smtp::DeliveryStatus st,
                        std::optional<dane::TlsOutcome> tls = {}, bool offered = true) {
    return ConnectionEvidence{
        host + "[192.0.2.1]:25", std::move(st), std::move(tls), host, "192.0.2.1", offered};
}

dane::TlsOutcome failed_tls(std::string verify_error) {
    dane::TlsOutcome o;
    o.failure = dane::Failure{false, "4.7.5", "Server certificate not trusted"};
    o.verify_error = std::move(verify_error);
    return o;
}

TEST(Tlsrpt, EachConnectionCountsUnderItsHostsPolicy) {
    dane::Destination d;
    d.domain = "a.test";
    d.hosts = {host("mx.dane.test", dane::TlsRequirement::dane),
               host("mx.a.test", dane::TlsRequirement::verify, true),
               host("mx.plain.test", dane::TlsRequirement::may),
               host("mx.out.test", dane::TlsRequirement::may, true)};
    d.hosts[3].plan.failure = dane::Failure{false, "4.7.5", "MX host mx.out.test does not match"};
    StsFound sts;
    sts.policy = dane::StsPolicy{dane::StsMode::enforce, 600, {"mx.a.test"}};
    AttemptReport r;
    const auto ok = smtp::DeliveryStatus::success("250 ok");
    r.connections = {
        conn("mx.dane.test", ok, dane::TlsOutcome{}),
        conn("mx.a.test", smtp::DeliveryStatus::temp("4.7.5", "x"),
             failed_tls("hostname mismatch")),
        conn("mx.a.test", smtp::DeliveryStatus::temp("4.7.5", "x"),
             failed_tls("certificate has expired")),
        conn("mx.a.test", smtp::DeliveryStatus::temp("4.7.4",
                                                     "TLS is required, but was not "
                                                     "offered by host mx.a.test")),
        conn("mx.plain.test", ok, std::nullopt, false),  // plaintext: not offered
        conn("mx.plain.test", smtp::DeliveryStatus::temp("4.4.1", "connect refused")),
    };
    auto out = classify(d, &sts, r);
    std::vector<std::string> got;
    for (const auto& o : out)
        got.push_back(std::string(to_string(o.policy.type)) + " " +
                      (o.failure ? o.failure->result_type + "@" + o.failure->receiving_mx : "ok"));
    EXPECT_EQ(got, (std::vector<std::string>{
                       "sts validation-failure@mx.out.test",  // refused by the policy
                       "tlsa ok",
                       "sts certificate-host-mismatch@mx.a.test",
                       "sts certificate-expired@mx.a.test",
                       "sts starttls-not-supported@mx.a.test",
                       "no-policy-found starttls-not-supported@mx.plain.test",
                   }));  // the refused TCP connection is no TLS session
    EXPECT_EQ(out[1].policy.strings, std::vector<std::string>{"3 1 1 0102"});
    EXPECT_EQ(out[2].policy.mx_hosts, std::vector<std::string>{"mx.a.test"});
}

TEST(Tlsrpt, AFailedPolicyFetchIsOneFailureOfTheDomain) {
    dane::Destination d;
    d.domain = "a.test";
    StsFound sts;
    sts.failure = "sts-policy-fetch-error";
    sts.why = "HTTP 503";
    auto out = classify(d, &sts, AttemptReport{});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].policy.type, PolicyType::sts);
    EXPECT_EQ(out[0].failure->result_type, "sts-policy-fetch-error");
    EXPECT_EQ(out[0].failure->reason, "HTTP 503");
    EXPECT_TRUE(classify(d, nullptr, AttemptReport{}).empty());
}

}  // namespace
}  // namespace dr::relay::tlsrpt

namespace dr::relay::tlsrpt {
namespace {

ReportMailInput mail_input() {
    ReportMailInput in;
    in.domain = "a.test";
    in.submitter = "relay.example";
    in.report_id = "2026-12-03T00:00:00Z_a.test@relay.example";
    in.day = "2026-12-03";
    in.from = "noreply-smtp-tls-reporting@relay.example";
    in.to = "tlsrpt@a.test";
    in.hostname = "relay.example";
    in.now_us = 1796342400LL * 1000000;
    auto r = report_json(sample(), "a.test", in.day, {"Org", "mailto:x@y.test", in.report_id});
    in.json = json::serialize(*r);
    return in;
}

TEST(TlsrptMail, TheFileNameIsTheRfcs) {
    EXPECT_EQ(day_start("2026-12-03"), 1796256000);
    EXPECT_EQ(day_start("2026-13"), -1);
    EXPECT_EQ(report_file_name(mail_input()),
              "relay.example!a.test!1796256000!1796342399!2026-12-03T00_00_00Z_a.test@relay."
              "example.json.gz");
}

// Python's email and gzip modules read the mail back: the structure, the fields and the
// report, byte for byte as JSON (tests/relay/tlsrpt_mail_check.py).
TEST(TlsrptMail, AnIndependentParserReadsTheReportBack) {
    const auto in = mail_input();
    const auto dir = std::filesystem::temp_directory_path() / "tlsrpt-mail-test";
    std::filesystem::create_directories(dir);
    const auto mail = dir / "mail.eml", report = dir / "report.json";
    std::ofstream(mail, std::ios::binary) << compose_report_mail(in);
    std::ofstream(report, std::ios::binary) << in.json;
    int rc = std::system(
        ("/usr/bin/python3 " TLSRPT_MAIL_CHECK_PY " " + mail.string() + " " + report.string())
            .c_str());
    EXPECT_EQ(rc, 0);
    auto bad = in;
    bad.json = "{\"other\":1}";  // the checker must notice a different report
    std::ofstream(report, std::ios::binary) << in.json;
    std::ofstream(mail, std::ios::binary) << compose_report_mail(bad);
    rc = std::system(("/usr/bin/python3 " TLSRPT_MAIL_CHECK_PY " " + mail.string() + " " +
                      report.string() + " 2>/dev/null")
                         .c_str());
    EXPECT_NE(rc, 0);
    std::filesystem::remove_all(dir);
    const auto m = compose_report_mail(in);
    for (std::size_t at = 0, end; (end = m.find("\r\n", at)) != std::string::npos; at = end + 2)
        EXPECT_LE(end - at, 998u) << m.substr(at, end - at);  // RFC 5322 §2.1.1
}

}  // namespace
}  // namespace dr::relay::tlsrpt
