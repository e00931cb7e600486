// `dane-relay report`'s pure parts: syslog lines in both timestamp forms, the TLS and delivery
// records of dane-relay and of Postfix, failure reasons, the level a delivery is credited
// with when sessions interleave, the time window, and hostile names in CSV and HTML.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "relay/report/render.hpp"
#include "relay/report/tally.hpp"

namespace dr::relay::report {
namespace {

namespace json = boost::json;

// 2026-12-01 12:00:00 UTC: a fixed "now" for the year of traditional stamps.
constexpr std::time_t kNow = 1796126400;

std::time_t local(int y, int mon, int d, int h, int min, int s) {
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = min;
    tm.tm_sec = s;
    tm.tm_isdst = -1;
    return std::mktime(&tm);
}

TEST(ReportLine, TraditionalStampTakesTheYearThatIsNotInTheFuture) {
    auto l = parse_line("Nov 23 19:20:01 relay1 dane-relay/smtp[4711]: text here", kNow);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->when, local(2026, 11, 23, 19, 20, 1));
    EXPECT_EQ(l->host, "relay1");
    EXPECT_EQ(l->name, "dane-relay/smtp");
    EXPECT_EQ(l->role(), "smtp");
    EXPECT_EQ(l->pid, "4711");
    EXPECT_EQ(l->text, "text here");
    // December 31 seen on December 1: last year's.
    auto old = parse_line("Dec 31 23:59:59 h postfix/qmgr[1]: x", kNow);
    ASSERT_TRUE(old);
    EXPECT_EQ(old->when, local(2025, 12, 31, 23, 59, 59));
    auto padded = parse_line("Dec  1 08:00:00 h postfix/smtp[9]: y", kNow);
    ASSERT_TRUE(padded);
    EXPECT_EQ(padded->when, local(2026, 12, 1, 8, 0, 0));
}

TEST(ReportLine, Rfc3339StampWithFractionAndOffset) {
    auto l = parse_line("2026-11-23T19:20:01.123456+01:00 mx postfix/smtp[77]: t", kNow);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->when, 1795458001);  // 18:20:01 UTC
    auto z = parse_line("2026-11-23T18:20:01Z mx postfix/smtp[77]: t", kNow);
    ASSERT_TRUE(z);
    EXPECT_EQ(z->when, 1795458001);
}

TEST(ReportLine, WhatIsNoSyslogLine) {
    for (const char* bad :
         {"", "garbage", "Nov 99 19:20:01 h p[1]: x", "Nov 23 19:20:01 h",
          "2026-13-01T00:00:00Z h p[1]: x", "Nov 23 19:20:01 h p[1 x: y", "\x01\x02\x03 binary"})
        EXPECT_FALSE(parse_line(bad, kNow)) << bad;
}

TEST(ReportRecords, TlsLine) {
    auto t = parse_tls(
        "Verified TLS connection established to mx.example[192.0.2.1]:25: TLSv1.3 with cipher "
        "TLS_AES_256_GCM_SHA384 (256/256 bits)");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->level, "Verified");
    EXPECT_EQ(t->endpoint, "mx.example[192.0.2.1]:25");
    auto v6 = parse_tls("Anonymous TLS connection established to mx[2001:db8::1]:25: TLSv1.2");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->endpoint, "mx[2001:db8::1]:25");
    EXPECT_FALSE(parse_tls("Forged TLS connection established to mx[192.0.2.1]:25: x"));
    EXPECT_FALSE(parse_tls("Verified TLS connection established from mx[192.0.2.1]: x"));
}

TEST(ReportRecords, DeliveryLinesOfBothMtas) {
    auto ours = parse_delivery(
        "8FBEE80337A: to=<User@Example.DE>, orig_to=<u@x>, relay=mail.example.de[2001:db8::25]:25,"
        " conn_use=2, delay=1.9, delays=0.02/0.01/0.13/1.8, tls=dane, dsn=2.0.0, status=sent "
        "(250 2.0.0 Ok: queued as 3fn8BY31tPzTT)");
    ASSERT_TRUE(ours);
    EXPECT_EQ(ours->queue_id, "8FBEE80337A");
    EXPECT_EQ(ours->recipient, "User@Example.DE");
    EXPECT_EQ(ours->domain(), "example.de");
    EXPECT_EQ(ours->relay, "mail.example.de[2001:db8::25]:25");
    EXPECT_EQ(ours->relay_host(), "mail.example.de");
    EXPECT_EQ(ours->tls, "dane");
    EXPECT_EQ(ours->status, "sent");
    EXPECT_EQ(ours->reason, "250 2.0.0 Ok: queued as 3fn8BY31tPzTT");
    auto none = parse_delivery(
        "4A1B: to=<a@nx.example>, relay=none, delay=0.1, delays=0/0/0.1/0, dsn=5.4.4, "
        "status=bounced (Host or domain name not found. Name service error for name=nx.example "
        "type=MX: Host not found)");
    ASSERT_TRUE(none);
    EXPECT_EQ(none->relay_host(), "none");
    EXPECT_EQ(classify(*none).label, "dns: lookup failed");
    EXPECT_FALSE(classify(*none).dane);
    EXPECT_FALSE(parse_delivery("4A1B: from=<a@b>, size=1, nrcpt=1 (queue active)"));
    EXPECT_FALSE(parse_delivery("4A1B: to=<a@b>, relay=x, status=sent (no dsn)"));
}

TEST(ReportRecords, ReasonsSayWhichAreDane) {
    auto reason = [](std::string text, std::string dsn = "4.7.5") {
        Delivery d;
        d.reason = std::move(text);
        d.dsn = std::move(dsn);
        return classify(d);
    };
    EXPECT_EQ(reason("Server certificate not verified").label, "dane: certificate not verified");
    EXPECT_TRUE(reason("Server certificate not verified").dane);
    EXPECT_TRUE(reason("TLS is required, but was not offered by host mx[192.0.2.1]").dane);
    EXPECT_TRUE(reason("TLSA lookup error for mx.example:25").dane);
    EXPECT_EQ(reason("TLS is required, but host mx[192.0.2.1] refused to start TLS: 454 no").label,
              "dane: STARTTLS refused");
    EXPECT_EQ(reason("host mx[192.0.2.1] said: 550 5.1.1 no such user", "5.1.1").label,
              "remote reply 5.1.1");
    EXPECT_EQ(reason("Domain x does not accept mail (nullMX)", "5.1.10").label, "null MX");
    EXPECT_EQ(reason("connect to mx[192.0.2.1]:25: Connection refused", "4.4.1").label,
              "connection: failed or lost");
}

void feed(Tally& t, std::initializer_list<const char*> lines) {
    for (const char* l : lines) {
        auto parsed = parse_line(l, kNow);
        ASSERT_TRUE(parsed) << l;
        t.add(*parsed);
    }
}

TEST(ReportTally, InterleavedSessionsKeepTheirOwnLevel) {
    Tally t;
    feed(t,
         {
             "Nov 23 10:00:00 r dane-relay/smtp[5]: Verified TLS connection established to "
             "a.example[192.0.2.1]:25: TLSv1.3",
             "Nov 23 10:00:00 r dane-relay/smtp[5]: Untrusted TLS connection established to "
             "b.example[192.0.2.2]:25: TLSv1.3",
             "Nov 23 10:00:01 r dane-relay/smtp[5]: Q1: to=<x@b.test>, "
             "relay=b.example[192.0.2.2]:25,"
             " delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
             "Nov 23 10:00:01 r dane-relay/smtp[5]: Q2: to=<y@a.test>, "
             "relay=a.example[192.0.2.1]:25,"
             " delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
             "Nov 23 10:00:02 r dane-relay/smtp[5]: Q3: to=<z@c.test>, "
             "relay=c.example[192.0.2.3]:25,"
             " delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
             // Another process's TLS line does not cover this one's session.
             "Nov 23 10:00:03 r postfix/smtp[6]: Q4: to=<w@a.test>, relay=a.example[192.0.2.1]:25,"
             " delay=1, delays=0/0/0/1, dsn=4.7.5, status=deferred (Server certificate not "
             "verified)",
             "Nov 23 10:00:03 r postfix/smtp[6]: Q5: to=<v@a.test>, relay=a.example[192.0.2.1]:25,"
        " delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
        "Nov 23 10:00:04 r dane-relay/smtpd[5]: Anonymous TLS connection established from "
             "c[127.0.0.1]: TLSv1.3",
         });
    EXPECT_EQ(t.connections,
              (std::map<std::string, std::uint64_t>{{"Untrusted", 1}, {"Verified", 1}}));
    EXPECT_EQ(t.all.sent, (std::map<std::string, std::uint64_t>{
                              {"Untrusted", 1}, {"Verified", 1}, {"plaintext", 2}}));
    EXPECT_EQ(t.all.deferred, 1u);
    EXPECT_EQ(t.domains.at("a.test").sent.at("Verified"), 1u);
    EXPECT_EQ(t.domains.at("a.test").deferred, 1u);
    EXPECT_EQ(t.mx_hosts.at("b.example").sent.at("Untrusted"), 1u);
    EXPECT_EQ(t.failures.at("dane: certificate not verified").deferred, 1u);
}

TEST(ReportTally, WindowKeepsOnlyItsLines) {
    Window w{local(2026, 11, 23, 10, 0, 1), local(2026, 11, 23, 10, 0, 3)};
    Tally t(w);
    for (int s = 0; s < 5; ++s) {
        std::string line = "Nov 23 10:00:0" + std::to_string(s) +
                           " r postfix/smtp[1]: Q: to=<a@b.test>, relay=none, delay=0, "
                           "delays=0/0/0/0, dsn=4.4.3, status=deferred (Host or domain name "
                           "not found)";
        t.add(*parse_line(line, kNow));
    }
    EXPECT_EQ(t.all.deferred, 2u);  // 10:00:01 and 10:00:02; until is exclusive
}

TEST(ReportTally, SessionBegunBeforeTheWindowKeepsItsLevel) {
    Tally t(Window{local(2026, 11, 23, 10, 0, 1), std::nullopt});
    feed(t, {"Nov 23 10:00:00 r postfix/smtp[1]: Verified TLS connection established to "
             "m[192.0.2.9]:25: TLSv1.3",
             "Nov 23 10:00:01 r postfix/smtp[1]: Q: to=<a@b.test>, relay=m[192.0.2.9]:25, "
             "delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)"});
    EXPECT_TRUE(t.connections.empty());
    EXPECT_EQ(t.all.sent, (std::map<std::string, std::uint64_t>{{"Verified", 1}}));
}

TEST(ReportRender, JsonHasTheSpecKeys) {
    Tally t;
    feed(t, {"Nov 23 10:00:01 r postfix/smtp[1]: Q: to=<a@b.test>, relay=m[192.0.2.9]:25, "
             "delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)"});
    auto doc = json::parse(to_json(t)).as_object();
    for (const char* key : {"connections", "deliveries", "failures", "domains", "mx_hosts"})
        EXPECT_TRUE(doc.contains(key)) << key;
    EXPECT_EQ(doc["deliveries"].at("sent").at("plaintext").to_number<std::uint64_t>(), 1u);
    EXPECT_EQ(doc["domains"].at("b.test").at("sent").at("plaintext").to_number<std::uint64_t>(),
              1u);
}

TEST(ReportRender, HostileNamesStayInertInCsvAndHtml) {
    Tally t;
    feed(t, {"Nov 23 10:00:01 r postfix/smtp[1]: Q: to=<a@x<script>alert(1)</script>,\"q>, "
             "relay=none, delay=0, delays=0/0/0/0, dsn=5.1.1, status=bounced (no)"});
    const std::string html = to_html(t, "<title>");
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos);
    EXPECT_NE(html.find("<title>&lt;title&gt;</title>"), std::string::npos);
    const std::string csv = to_csv(t);
    EXPECT_NE(csv.find("\"x<script>alert(1)</script>,\"\"q\""), std::string::npos) << csv;
}

}  // namespace
}  // namespace dr::relay::report
