// `dane-relay check`'s verdict (relay/cli/check.hpp verdict_of) from plans and probes, without
// sockets: the first host that took the connection decides; otherwise the delivery failure
// policy (RFC 5321 §4.5.4.1, Postfix's smtp_trouble.c) says defer or bounce and with which
// reason. Expectations come from SPEC §5-6, not from our output.
#include <gtest/gtest.h>

#include "relay/cli/check.hpp"

namespace dr::relay {
namespace {

using smtp::DeliveryStatus;

dane::HostResult host(const std::string& name, std::optional<dane::Failure> failure = {}) {
    dane::HostResult h;
    h.mx.name = name;
    h.plan.host = name;
    h.plan.failure = std::move(failure);
    return h;
}

Connection probe(const std::string& address, DeliveryStatus status,
                 std::optional<dane::TlsTrust> trust = {}) {
    Connection c;
    c.address = address;
    c.status = std::move(status);
    if (trust) {
        c.tls.emplace();
        c.tls->trust = *trust;
    }
    return c;
}

TEST(CheckVerdict, MxFailureDecidesAlone) {
    dane::Destination d;
    d.mx_plan.failure =
        dane::Failure{true, "5.1.10", "Domain x.test does not accept mail (nullMX)"};
    auto v = verdict_of(d, {});
    EXPECT_EQ(v.action, Verdict::Action::bounce);
    EXPECT_EQ(v.dsn, "5.1.10");
    d.mx_plan.failure = dane::Failure{false, "4.4.3", "Host or domain name not found."};
    EXPECT_EQ(verdict_of(d, {}).action, Verdict::Action::defer);
}

TEST(CheckVerdict, FirstWorkingHostDeliversWithItsTrust) {
    dane::Destination d;
    d.hosts = {host("mx1.x.test"), host("mx2.x.test")};
    std::vector<HostCheck> hc(2);
    hc[0].connections = {probe("192.0.2.1", DeliveryStatus::temp("4.7.5",
                                                                 "Server certificate "
                                                                 "not verified"))};
    hc[1].connections = {probe("192.0.2.2", DeliveryStatus::success(""), dane::TlsTrust::verified)};
    auto v = verdict_of(d, hc);
    EXPECT_EQ(v.action, Verdict::Action::deliver);
    EXPECT_EQ(v.host, "mx2.x.test");
    EXPECT_EQ(v.address, "192.0.2.2");
    EXPECT_TRUE(v.tls);
    EXPECT_EQ(v.trust, dane::TlsTrust::verified);
}

TEST(CheckVerdict, PlaintextDeliveryIsNotTls) {
    dane::Destination d;
    d.hosts = {host("mx.x.test")};
    std::vector<HostCheck> hc(1);
    hc[0].connections = {probe("192.0.2.1", DeliveryStatus::success(""))};
    auto v = verdict_of(d, hc);
    EXPECT_EQ(v.action, Verdict::Action::deliver);
    EXPECT_FALSE(v.tls);
}

TEST(CheckVerdict, AnySoftFailureDefersWithTheLastReason) {
    dane::Destination d;
    d.hosts = {host("mx1.x.test", dane::Failure{false, "4.7.5", "TLSA lookup error for mx1:25"}),
               host("mx2.x.test")};
    std::vector<HostCheck> hc(2);
    hc[1].connections = {probe("192.0.2.2", DeliveryStatus::perm("5.7.1", "Relay denied"))};
    auto v = verdict_of(d, hc);
    EXPECT_EQ(v.action, Verdict::Action::defer);
    EXPECT_EQ(v.dsn, "5.7.1");
    EXPECT_EQ(v.reason, "Relay denied");
}

TEST(CheckVerdict, OnlyHardFailuresBounce) {
    dane::Destination d;
    d.hosts = {host("mx1.x.test"), host("mx2.x.test")};
    std::vector<HostCheck> hc(2);
    hc[0].connections = {probe("192.0.2.1", DeliveryStatus::perm("5.7.1", "a"))};
    hc[1].connections = {probe("192.0.2.2", DeliveryStatus::perm("5.7.1", "b"))};
    auto v = verdict_of(d, hc);
    EXPECT_EQ(v.action, Verdict::Action::bounce);
    EXPECT_EQ(v.reason, "b");
}

TEST(CheckVerdict, NoHostAtAllDefers) {
    dane::Destination d;
    auto v = verdict_of(d, {});
    EXPECT_EQ(v.action, Verdict::Action::defer);
    EXPECT_EQ(v.dsn, "4.4.3");
}

TEST(CheckVerdict, UnprobedHostsDoNotDeliver) {
    // --no-connect: plans but no connections; nothing proves a host works.
    dane::Destination d;
    d.hosts = {host("mx.x.test")};
    auto v = verdict_of(d, std::vector<HostCheck>(1));
    EXPECT_EQ(v.action, Verdict::Action::defer);
}

}  // namespace
}  // namespace dr::relay
