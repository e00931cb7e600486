// What an MTA-STS policy changes in a resolved destination (dane/sts_plan.hpp): enforce
// filters and re-levels the hosts without DANE, DANE hosts stay as they are (RFC 8461 §2),
// testing and none change nothing, and the policy is looked up only where it could matter.
#include "dane/sts_plan.hpp"

#include <gtest/gtest.h>

namespace dr::dane {
namespace {

using conf::TlsLevel;

HostResult host(std::string name, TlsRequirement tls) {
    HostResult h;
    h.mx = MxHost{name, 10};
    h.plan.host = std::move(name);
    h.plan.tls = tls;
    if (tls == TlsRequirement::dane) {
        h.plan.tlsa_base = h.plan.host;
        h.plan.match_names = {h.plan.host, "a.test"};
    }
    return h;
}

Destination destination(std::vector<HostResult> hosts, TlsLevel level = TlsLevel::dane) {
    Destination d;
    d.domain = "a.test";
    d.context.domain = "a.test";
    d.context.level = level;
    d.mx = Lookup<MxRecord>{};
    d.hosts = std::move(hosts);
    return d;
}

StsPolicy policy(StsMode mode, std::vector<std::string> mx) {
    return StsPolicy{mode, 86400, std::move(mx)};
}

TEST(StsPlan, EnforceVerifiesMatchingHostsByNameAndSkipsTheOthers) {
    auto d = destination({host("mx1.a.test", TlsRequirement::may),
                          host("backup.other.test", TlsRequirement::may),
                          host("mx2.a.test", TlsRequirement::encrypt)});
    apply_sts(d, policy(StsMode::enforce, {"*.a.test"}));
    const auto& mx1 = d.hosts[0].plan;
    EXPECT_FALSE(mx1.failure);
    EXPECT_EQ(mx1.tls, TlsRequirement::verify);
    EXPECT_TRUE(mx1.sts);
    EXPECT_EQ(mx1.tlsa_base, "mx1.a.test");  // the SNI
    // RFC 8461 §4.1: the certificate must be valid for the MX host, not the domain.
    EXPECT_EQ(mx1.match_names, std::vector<std::string>{"mx1.a.test"});
    const auto& other = d.hosts[1].plan;
    ASSERT_TRUE(other.failure);
    EXPECT_FALSE(other.failure->permanent);  // RFC 8461 §5: deferred, not bounced
    EXPECT_EQ(other.failure->dsn, "4.7.5");
    EXPECT_TRUE(other.sts);  // refused by the policy
    EXPECT_EQ(other.failure->reason, "MX host backup.other.test does not match the MTA-STS policy");
    EXPECT_EQ(d.hosts[2].plan.tls, TlsRequirement::verify);  // encrypt is raised too
}

TEST(StsPlan, DaneHostsKeepTheirPlanAndAreNotFiltered) {
    auto d = destination(
        {host("mx.dane.test", TlsRequirement::dane), host("mx1.a.test", TlsRequirement::may)});
    const auto before = d.hosts[0].plan.match_names;
    apply_sts(d, policy(StsMode::enforce, {"mx1.a.test"}));
    EXPECT_FALSE(d.hosts[0].plan.failure);  // not in the policy, but DANE wins
    EXPECT_EQ(d.hosts[0].plan.tls, TlsRequirement::dane);
    EXPECT_FALSE(d.hosts[0].plan.sts);
    EXPECT_EQ(d.hosts[0].plan.match_names, before);
    EXPECT_EQ(d.hosts[1].plan.tls, TlsRequirement::verify);
}

TEST(StsPlan, TestingAndNoneChangeNothingAndFailedHostsStayFailed) {
    for (auto mode : {StsMode::testing, StsMode::none}) {
        auto d = destination({host("backup.other.test", TlsRequirement::may)});
        apply_sts(d, policy(mode, {"mx.a.test"}));
        EXPECT_FALSE(d.hosts[0].plan.failure) << to_string(mode);
        EXPECT_EQ(d.hosts[0].plan.tls, TlsRequirement::may) << to_string(mode);
    }
    auto d = destination({host("mx.a.test", TlsRequirement::may)});
    d.hosts[0].plan.failure = Failure{false, "4.4.3", "Host or domain name not found"};
    apply_sts(d, policy(StsMode::enforce, {"mx.a.test"}));
    EXPECT_EQ(d.hosts[0].plan.failure->dsn, "4.4.3");
    EXPECT_FALSE(d.hosts[0].plan.sts);
}

TEST(StsPlan, LookedUpOnlyWhereAPolicyCouldApply) {
    EXPECT_TRUE(sts_wanted(destination({host("mx.a.test", TlsRequirement::may)})));
    EXPECT_TRUE(sts_wanted(destination(
        {host("mx.dane.test", TlsRequirement::dane), host("mx.a.test", TlsRequirement::may)})));
    EXPECT_FALSE(sts_wanted(destination({host("mx.dane.test", TlsRequirement::dane)})));
    for (auto level : {TlsLevel::may, TlsLevel::encrypt})
        EXPECT_TRUE(sts_wanted(destination({host("mx.a.test", TlsRequirement::may)}, level)));
    for (auto level : {TlsLevel::dane_only, TlsLevel::verify, TlsLevel::none})
        EXPECT_FALSE(sts_wanted(destination({host("mx.a.test", TlsRequirement::may)}, level)))
            << conf::to_string(level);
    auto pinned = destination({host("mx.a.test", TlsRequirement::may)});
    pinned.mx.reset();  // a [host] next hop: no MX lookup, no MTA-STS
    EXPECT_FALSE(sts_wanted(pinned));
    auto nomx = destination({});
    nomx.mx_plan.failure = Failure{false, "4.4.3", "Host or domain name not found"};
    EXPECT_FALSE(sts_wanted(nomx));
    auto failed = destination({host("mx.a.test", TlsRequirement::may)});
    failed.hosts[0].plan.failure = Failure{false, "4.4.3", "x"};
    EXPECT_FALSE(sts_wanted(failed));
}

}  // namespace
}  // namespace dr::dane
