// `dane-relay monitor`'s judgement (relay/cli/monitor.hpp) without sockets or DNS: a
// DomainReport made by hand in, the Nagios state and findings out. Expectations come from
// SPEC §11 (CRITICAL: DANE senders defer now; WARNING: breaks soon or half-done) and
// RFC 7672, not from our output. Certificates are stand-in bytes: with matching type 0
// (full data) a record matches when its data equals the selected bytes.
#include <gtest/gtest.h>

#include "relay/cli/monitor.hpp"

namespace dr::relay {
namespace {

using dane::Security;
using smtp::DeliveryStatus;

constexpr std::int64_t kNow = 1'800'000'000;
constexpr std::int64_t kDay = 86400;

PeerCert cert(std::uint8_t tag, std::int64_t not_after = kNow + 365 * kDay) {
    return PeerCert{{0x30, tag, 0x01}, {0x30, tag, 0x02}, not_after};
}

// A record for `c`: usage U, selector 1 (SPKI), matching type 0 (the bytes themselves).
dane::TlsaRecord record(std::uint8_t usage, const PeerCert& c) {
    return dane::TlsaRecord{usage, 1, 0, c.spki};
}

dane::HostResult dane_host(const std::string& name, std::vector<dane::TlsaRecord> records) {
    dane::HostResult h;
    h.mx.name = name;
    h.plan.host = name;
    h.plan.tls = dane::TlsRequirement::dane;
    h.plan.address_security = Security::secure;
    h.plan.addresses = {dane::IpAddress{dane::IpAddress::Family::v4, {192, 0, 2, 1}}};
    h.plan.tlsa_base = name;
    h.plan.tlsa = records;
    dane::TlsaCandidate t;
    t.base = name;
    t.lookup.security = Security::secure;
    t.lookup.outcome = dane::Outcome::found;
    t.lookup.records = std::move(records);
    h.tlsa = {t};
    return h;
}

Connection verified(std::vector<PeerCert> chain, std::string key_type = "ECDSA") {
    Connection c;
    c.address = "192.0.2.1";
    c.status = DeliveryStatus::success("");
    c.tls.emplace();
    c.tls->trust = dane::TlsTrust::verified;
    c.key_type = std::move(key_type);
    c.chain = std::move(chain);
    return c;
}

Connection not_verified(std::vector<PeerCert> chain, std::string key_type = "ECDSA") {
    Connection c = verified(std::move(chain), std::move(key_type));
    c.status = DeliveryStatus::temp("4.7.5", "Server certificate not verified");
    c.tls->trust = dane::TlsTrust::untrusted;
    c.tls->failure = dane::Failure{false, "4.7.5", "Server certificate not verified"};
    return c;
}

// x.test with a secure MX RRset naming the given hosts, each probed with `conns`.
DomainReport report(std::vector<dane::HostResult> hosts, std::vector<HostCheck> checks,
                    Security mx = Security::secure) {
    DomainReport r;
    r.domain = "x.test";
    auto& d = r.destination;
    d.mx.emplace();
    d.mx->security = mx;
    d.mx->outcome = dane::Outcome::found;
    for (const auto& h : hosts) d.mx->records.push_back({10, h.mx.name});
    d.hosts = std::move(hosts);
    r.hosts = std::move(checks);
    return r;
}

HostCheck probed(std::vector<Connection> c) {
    HostCheck hc;
    hc.connections = std::move(c);
    return hc;
}

MonitorOptions options() {
    MonitorOptions o;
    o.now = kNow;
    return o;
}

bool mentions(const Judgement& j, const std::string& fragment) {
    for (const auto& f : j.findings)
        if (f.text.find(fragment) != std::string::npos) return true;
    return false;
}

TEST(MonitorVerdict, MatchingLiveCertificateIsOk) {
    auto c = cert(1);
    auto j = judge(report({dane_host("mx.x.test", {record(3, c)})}, {probed({verified({c})})}),
                   options());
    EXPECT_EQ(j.severity, Severity::ok);
    EXPECT_TRUE(j.findings.empty());
    EXPECT_EQ(j.figures.certificates, 1u);
    EXPECT_EQ(j.figures.tlsa_unmatched, 0u);
}

TEST(MonitorVerdict, RecordMatchingNoLiveCertificateWarns) {
    auto live = cert(1), next = cert(2);
    auto j = judge(report({dane_host("mx.x.test", {record(3, next), record(3, live)})},
                          {probed({verified({live})})}),
                   options());
    EXPECT_EQ(j.severity, Severity::warning);
    EXPECT_TRUE(mentions(j, "cannot be told apart"));
    EXPECT_EQ(j.figures.tlsa_unmatched, 1u);
}

TEST(MonitorVerdict, LiveCertificateMatchingNoRecordIsCritical) {
    auto live = cert(1), other = cert(2);
    auto j = judge(
        report({dane_host("mx.x.test", {record(3, other)})}, {probed({not_verified({live})})}),
        options());
    EXPECT_EQ(j.severity, Severity::critical);
    EXPECT_TRUE(mentions(j, "ECDSA certificate matches none of the TLSA records"));
}

TEST(MonitorVerdict, TheOtherKeyTypeIsJudgedToo) {
    auto ec = cert(1), rsa = cert(2);
    auto c = verified({ec});
    Connection second = not_verified({rsa}, "RSA");
    second.restricted = KeyType::rsa;
    c.other_keys.push_back(second);
    auto r = report({dane_host("mx.x.test", {record(3, ec)})}, {probed({c})});
    auto j = judge(r, options());
    EXPECT_EQ(j.severity, Severity::critical);
    EXPECT_TRUE(mentions(j, "senders offering only RSA signatures defer"));
    // A server without an RSA certificate: nothing to judge.
    r.hosts[0].connections[0].other_keys[0].offered = false;
    EXPECT_EQ(judge(r, options()).severity, Severity::ok);
}

TEST(MonitorVerdict, DaneTaDataMatchButFailedVerificationIsAChainOrNameFailure) {
    auto leaf = cert(1), ca = cert(2);
    auto c = not_verified({leaf, ca});
    c.tls->verify_error = "hostname mismatch";
    auto j = judge(report({dane_host("mx.x.test", {record(2, ca)})}, {probed({c})}), options());
    EXPECT_EQ(j.severity, Severity::critical);
    EXPECT_TRUE(mentions(j, "DANE-TA chain or name check failed (hostname mismatch)"));
}

TEST(MonitorVerdict, HalfDaneWarns) {
    auto c = cert(1);
    auto h = dane_host("mx.other.test", {record(3, c)});
    h.plan.half_dane = true;
    auto j = judge(report({h}, {probed({verified({c})})}, Security::insecure), options());
    EXPECT_EQ(j.severity, Severity::warning);
    EXPECT_TRUE(mentions(j, "half-DANE"));
}

TEST(MonitorVerdict, NoDnssecIsCritical) {
    auto h = dane_host("mx.x.test", {});
    h.plan.tls = dane::TlsRequirement::may;
    h.plan.address_security = Security::insecure;
    h.tlsa.clear();
    auto j = judge(report({h}, {probed({verified({cert(1)})})}, Security::insecure), options());
    EXPECT_EQ(j.severity, Severity::critical);
    EXPECT_TRUE(mentions(j, "no DNSSEC"));
    EXPECT_TRUE(mentions(j, "address records are not signed"));
}

TEST(MonitorVerdict, MissingTlsaAtASignedHostIsCritical) {
    auto h = dane_host("mx.x.test", {});
    h.plan.tls = dane::TlsRequirement::may;
    h.tlsa[0].lookup.outcome = dane::Outcome::nodata;
    auto j = judge(report({h}, {probed({verified({cert(1)})})}), options());
    EXPECT_EQ(j.severity, Severity::critical);
    EXPECT_TRUE(mentions(j, "no TLSA records"));
}

TEST(MonitorVerdict, OneFailingHostOfSeveralIsCritical) {
    auto good = cert(1);
    auto j = judge(report({dane_host("mx1.x.test", {record(3, cert(9))}),
                           dane_host("mx2.x.test", {record(3, good)})},
                          {probed({not_verified({cert(3)})}), probed({verified({good})})}),
                   options());
    EXPECT_EQ(j.severity, Severity::critical);
    ASSERT_FALSE(j.findings.empty());
    EXPECT_EQ(j.findings[0].host, "mx1.x.test");
}

TEST(MonitorVerdict, TlsaSignatureExpiringWithinSigWarnWarns) {
    auto c = cert(1);
    auto r = report({dane_host("mx.x.test", {record(3, c)})}, {probed({verified({c})})});
    r.destination.hosts[0].tlsa[0].lookup.sig_expires = kNow + 3 * kDay;
    auto j = judge(r, options());
    EXPECT_EQ(j.severity, Severity::warning);
    EXPECT_TRUE(mentions(j, "expires in 3.0 days"));
    ASSERT_TRUE(j.figures.sig_days);
    EXPECT_DOUBLE_EQ(*j.figures.sig_days, 3.0);
    auto o = options();
    o.sig_warn_days = 2;
    EXPECT_EQ(judge(r, o).severity, Severity::ok);
}

TEST(MonitorVerdict, DaneTaChainCertificateExpiringWithinCertWarnWarns) {
    auto leaf = cert(1, kNow + 10 * kDay), ca = cert(2, kNow + 3000 * kDay);
    auto c = verified({leaf, ca});
    c.tls->matched = record(2, ca);
    c.tls->depth = 1;
    auto r = report({dane_host("mx.x.test", {record(2, ca)})}, {probed({c})});
    auto j = judge(r, options());
    EXPECT_EQ(j.severity, Severity::warning);
    EXPECT_TRUE(mentions(j, "certificate 0 of the DANE-TA chain expires in 10.0 days"));
    // DANE-EE: the dates of the certificate do not matter (RFC 7672 §3.1.1).
    auto ee = verified({leaf});
    auto j2 = judge(report({dane_host("mx.x.test", {record(3, leaf)})}, {probed({ee})}), options());
    EXPECT_EQ(j2.severity, Severity::ok);
}

TEST(MonitorVerdict, RenewalMatchingNoRecordWarns) {
    auto live = cert(1), renewed = cert(2);
    auto r = report({dane_host("mx.x.test", {record(3, live)})}, {probed({verified({live})})});
    auto o = options();
    o.renewal = std::vector<PeerCert>{renewed};
    o.renewal_name = "new.pem";
    auto j = judge(r, o);
    EXPECT_EQ(j.severity, Severity::warning);
    EXPECT_TRUE(mentions(j, "this renewal would break DANE for mx.x.test: new.pem"));
    // The same key renewed is OK: judged by OpenSSL on real certificates (renewal_test.cpp).
}

TEST(MonitorVerdict, MatchingRules) {
    auto leaf = cert(1), ca = cert(2);
    EXPECT_TRUE(tlsa_matches(record(3, leaf), {leaf, ca}));
    EXPECT_FALSE(tlsa_matches(record(3, ca), {leaf, ca}));  // DANE-EE: the leaf only
    EXPECT_TRUE(tlsa_matches(record(2, ca), {leaf, ca}));
    EXPECT_FALSE(tlsa_matches(record(2, leaf), {leaf, ca}));  // DANE-TA: not the leaf
    EXPECT_FALSE(tlsa_matches(record(1, leaf), {leaf}));      // PKIX-EE: not with SMTP
    EXPECT_TRUE(tlsa_matches(dane::TlsaRecord{3, 0, 0, leaf.der}, {leaf}));
    EXPECT_FALSE(tlsa_matches(dane::TlsaRecord{3, 1, 1, leaf.spki}, {leaf}));  // not a digest
}

TEST(MonitorVerdict, PluginOutputFirstLineAndWorstState) {
    auto c = cert(1);
    auto ok = judge(report({dane_host("mx.x.test", {record(3, c)})}, {probed({verified({c})})}),
                    options());
    auto bad =
        judge(report({dane_host("mx.x.test", {record(3, cert(2))})}, {probed({not_verified({c})})}),
              options());
    auto out = plugin_output({ok}, options());
    EXPECT_EQ(out.severity, Severity::ok);
    EXPECT_EQ(out.first_line.rfind("DANE OK - x.test: 1 MX host(s)", 0), 0u) << out.first_line;
    EXPECT_NE(out.first_line.find(" | domains=1 critical=0;;0 warning=0;0 hosts=1"),
              std::string::npos)
        << out.first_line;
    out = plugin_output({ok, bad}, options());
    EXPECT_EQ(out.severity, Severity::critical);
    EXPECT_EQ(out.first_line.rfind("DANE CRITICAL - 1 critical, 0 warning of 2 domains: ", 0), 0u)
        << out.first_line;
    EXPECT_EQ(out.details.size(), 3u);  // OK x.test, CRITICAL finding, WARNING stale record
}

}  // namespace
}  // namespace dr::relay
