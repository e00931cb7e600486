// What RFC 8689 changes in a resolved destination (dane/requiretls_plan.hpp): REQUIRETLS
// keeps hosts authenticated for the MX name (DANE with a signed MX, PKIX with a signed MX
// or an MTA-STS match), raises signed-MX hosts without TLSA to PKIX, and fails the rest
// permanently; "TLS-Required: No" makes every usable host opportunistic, at the levels
// where DANE and MTA-STS are the recipient's policy only.
#include "dane/requiretls_plan.hpp"

#include <gtest/gtest.h>

namespace dr::dane {
namespace {

using conf::TlsLevel;

HostResult host(std::string name, TlsRequirement tls) {
    HostResult h;
    h.mx = MxHost{name, 10};
    h.plan.host = std::move(name);
    h.plan.tls = tls;
    h.plan.addresses = {IpAddress{}};
    if (tls == TlsRequirement::dane) h.plan.tlsa = {TlsaRecord{3, 1, 1, {1, 2}}};
    return h;
}

Destination destination(std::vector<HostResult> hosts, Security mx,
                        TlsLevel level = TlsLevel::dane) {
    Destination d;
    d.domain = "a.test";
    d.context.level = level;
    d.mx = Lookup<MxRecord>{};
    d.mx->security = mx;
    d.hosts = std::move(hosts);
    return d;
}

TEST(RequireTlsPlan, SignedMxKeepsDaneAndRaisesTheRestToPkixForTheMxName) {
    auto d = destination(
        {host("mx1.a.test", TlsRequirement::dane), host("mx2.a.test", TlsRequirement::may)},
        Security::secure);
    apply_requiretls(d);
    EXPECT_FALSE(d.hosts[0].plan.failure);
    EXPECT_EQ(d.hosts[0].plan.tls, TlsRequirement::dane);
    EXPECT_FALSE(d.hosts[1].plan.failure);
    EXPECT_EQ(d.hosts[1].plan.tls, TlsRequirement::verify);
    EXPECT_EQ(d.hosts[1].plan.match_names, std::vector<std::string>{"mx2.a.test"});
}

TEST(RequireTlsPlan, UnsignedMxNeedsMtaSts) {
    auto sts = host("mx1.a.test", TlsRequirement::verify);
    sts.plan.sts = true;  // an enforce policy matched it (sts_plan.hpp)
    auto half = host("mx2.a.test", TlsRequirement::dane);
    half.plan.half_dane = true;  // TLSA signed, MX not: the MX name is not authenticated
    auto d = destination({sts, half, host("mx3.a.test", TlsRequirement::may),
                          host("mx4.a.test", TlsRequirement::verify)},
                         Security::insecure);
    apply_requiretls(d);
    EXPECT_FALSE(d.hosts[0].plan.failure);
    for (std::size_t i = 1; i < 4; ++i) {
        ASSERT_TRUE(d.hosts[i].plan.failure) << i;
        EXPECT_TRUE(d.hosts[i].plan.failure->permanent);
        EXPECT_EQ(d.hosts[i].plan.failure->dsn, "5.7.10");
    }
    EXPECT_EQ(d.hosts[2].plan.failure->reason,
              "REQUIRETLS: no authenticated TLS for MX host mx3.a.test (neither DANE nor "
              "MTA-STS nor a DNSSEC-signed MX with PKIX)");
}

TEST(RequireTlsPlan, FailedHostsStayFailed) {
    auto bad = host("mx1.a.test", TlsRequirement::dane);
    bad.plan.failure = Failure{false, "4.7.5", "TLSA lookup error"};
    auto d = destination({bad}, Security::secure);
    apply_requiretls(d);
    EXPECT_EQ(d.hosts[0].plan.failure->dsn, "4.7.5");
}

TEST(RequireTlsPlan, TlsRequiredNoDropsDaneAndStsButNotTheOperatorsLevels) {
    auto refused = host("mx2.a.test", TlsRequirement::verify);
    refused.plan.sts = true;
    refused.plan.failure = Failure{false, "4.7.5", "MX host mx2.a.test does not match"};
    auto noaddr = host("mx3.a.test", TlsRequirement::may);
    noaddr.plan.addresses.clear();
    noaddr.plan.failure = Failure{false, "4.4.3", "Host not found"};
    auto d =
        destination({host("mx1.a.test", TlsRequirement::dane), refused, noaddr}, Security::secure);
    apply_tls_optional(d);
    for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_FALSE(d.hosts[i].plan.failure) << i;
        EXPECT_EQ(d.hosts[i].plan.tls, TlsRequirement::may) << i;
        EXPECT_TRUE(d.hosts[i].plan.tlsa.empty());
    }
    EXPECT_EQ(d.hosts[2].plan.failure->dsn, "4.4.3");
    for (auto level : {TlsLevel::verify, TlsLevel::encrypt, TlsLevel::dane_only}) {
        auto kept =
            destination({host("mx1.a.test", TlsRequirement::dane)}, Security::secure, level);
        apply_tls_optional(kept);
        EXPECT_EQ(kept.hosts[0].plan.tls, TlsRequirement::dane);
    }
}

}  // namespace
}  // namespace dr::dane
