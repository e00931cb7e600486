// The RFC 7672 decision, rule by rule (SPEC §5). Expected values come from
// the RFC text and Postfix's documented behaviour, not from our output.
#include "dane/policy.hpp"

#include <gtest/gtest.h>

#include <set>

namespace dr::dane {
namespace {

using conf::TlsLevel;

template <class T>
Lookup<T> answer(Security s, std::vector<T> records, std::string canonical = {}) {
    Lookup<T> l;
    l.security = s;
    l.outcome = records.empty() ? Outcome::nodata : Outcome::found;
    l.records = std::move(records);
    l.canonical = std::move(canonical);
    return l;
}

template <class T>
Lookup<T> with_outcome(Security s, Outcome o) {
    Lookup<T> l;
    l.security = s;
    l.outcome = o;
    return l;
}

IpAddress v4(std::uint8_t last) {
    IpAddress ip;
    ip.bytes = {192, 0, 2, last};
    return ip;
}

TlsaRecord tlsa(std::uint8_t u, std::uint8_t s, std::uint8_t m, std::size_t len = 32) {
    return TlsaRecord{u, s, m, std::vector<std::uint8_t>(len, 0xab)};
}

// gtest names may hold only [A-Za-z0-9_].
template <class Case>
std::string case_name(const ::testing::TestParamInfo<Case>& info) {
    std::string out;
    for (const char* p = info.param.name; *p; ++p)
        out += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
    return out + "_" + std::to_string(info.index);
}

// ---- MX step -----------------------------------------------------------

struct MxCase {
    const char* name;
    Lookup<MxRecord> mx;
    TlsLevel level;
    std::optional<std::string> dsn;  // expected failure code, nullopt = hosts
    bool permanent;
    std::vector<std::string> hosts;
};

void PrintTo(const MxCase& c, std::ostream* os) {
    *os << c.name;
}

class MxRules : public ::testing::TestWithParam<MxCase> {};

TEST_P(MxRules, Decide) {
    const auto& c = GetParam();
    std::mt19937 rng(1);
    auto plan = plan_mx("example.org", c.mx, c.level, rng);
    if (c.dsn) {
        ASSERT_TRUE(plan.failure) << c.name;
        EXPECT_EQ(plan.failure->dsn, *c.dsn);
        EXPECT_EQ(plan.failure->permanent, c.permanent);
        EXPECT_TRUE(plan.hosts.empty());
    } else {
        ASSERT_FALSE(plan.failure) << plan.failure->reason;
        std::vector<std::string> names;
        for (auto& h : plan.hosts) names.push_back(h.name);
        EXPECT_EQ(names, c.hosts);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Spec5_1, MxRules,
    ::testing::Values(
        MxCase{"secure MX sorted by preference",
               answer<MxRecord>(Security::secure, {{20, "b.example.org"}, {10, "a.example.org"}}),
               TlsLevel::dane,
               std::nullopt,
               false,
               {"a.example.org", "b.example.org"}},
        MxCase{"bogus MX defers 4.4.3",
               with_outcome<MxRecord>(Security::bogus, Outcome::error),
               TlsLevel::dane,
               "4.4.3",
               false,
               {}},
        MxCase{"SERVFAIL defers 4.4.3",
               with_outcome<MxRecord>(Security::failure, Outcome::error),
               TlsLevel::dane,
               "4.4.3",
               false,
               {}},
        MxCase{"secure NXDOMAIN bounces 5.4.4",
               with_outcome<MxRecord>(Security::secure, Outcome::nxdomain),
               TlsLevel::dane,
               "5.4.4",
               true,
               {}},
        MxCase{"insecure NXDOMAIN bounces 5.4.4",
               with_outcome<MxRecord>(Security::insecure, Outcome::nxdomain),
               TlsLevel::dane,
               "5.4.4",
               true,
               {}},
        MxCase{"NODATA: implicit MX",
               answer<MxRecord>(Security::secure, {}),
               TlsLevel::dane,
               std::nullopt,
               false,
               {"example.org"}},
        MxCase{"null MX bounces 5.1.10",
               answer<MxRecord>(Security::secure, {{0, ""}}),
               TlsLevel::dane,
               "5.1.10",
               true,
               {}},
        MxCase{"dane-only with insecure MX defers 4.7.5",
               answer<MxRecord>(Security::insecure, {{10, "mx.example.org"}}),
               TlsLevel::dane_only,
               "4.7.5",
               false,
               {}},
        MxCase{"dane with insecure MX continues (half-dane)",
               answer<MxRecord>(Security::insecure, {{10, "mx.example.org"}}),
               TlsLevel::dane,
               std::nullopt,
               false,
               {"mx.example.org"}},
        MxCase{"malformed targets skipped",
               answer<MxRecord>(Security::secure, {{10, "bad\\032name"}, {20, "ok.example.org"}}),
               TlsLevel::dane,
               std::nullopt,
               false,
               {"ok.example.org"}},
        MxCase{"only malformed targets defer",
               answer<MxRecord>(Security::secure, {{10, "bad\\000"}}),
               TlsLevel::dane,
               "4.4.3",
               false,
               {}}),
    case_name<MxCase>);

TEST(MxRules, EqualPreferencesAreShuffledButGroupsStayOrdered) {
    auto mx = answer<MxRecord>(
        Security::secure,
        {{10, "a1.x"}, {10, "a2.x"}, {10, "a3.x"}, {5, "first.x"}, {20, "last.x"}});
    std::set<std::string> seen_second;
    for (unsigned seed = 0; seed < 32; ++seed) {
        std::mt19937 rng(seed);
        auto plan = plan_mx("x", mx, TlsLevel::dane, rng);
        ASSERT_EQ(plan.hosts.size(), 5u);
        EXPECT_EQ(plan.hosts.front().name, "first.x");
        EXPECT_EQ(plan.hosts.back().name, "last.x");
        seen_second.insert(plan.hosts[1].name);
    }
    EXPECT_EQ(seen_second.size(), 3u) << "RFC 5321 §5.1: equal preferences in random order";
}

TEST(MxRules, NullMxTextIsPostfixs) {
    std::mt19937 rng(1);
    auto plan =
        plan_mx("example.org", answer<MxRecord>(Security::secure, {{0, ""}}), TlsLevel::dane, rng);
    EXPECT_EQ(plan.failure->reason, "Domain example.org does not accept mail (nullMX)");
}

TEST(MxRules, NameServiceTexts) {
    std::mt19937 rng(1);
    auto nx = plan_mx("gone.example", with_outcome<MxRecord>(Security::secure, Outcome::nxdomain),
                      TlsLevel::dane, rng);
    EXPECT_EQ(nx.failure->reason,
              "Host or domain name not found. Name service error for name=gone.example "
              "type=MX: Host not found");
    auto bogus = plan_mx("b.example", with_outcome<MxRecord>(Security::bogus, Outcome::error),
                         TlsLevel::dane, rng);
    EXPECT_EQ(bogus.failure->reason,
              "Host or domain name not found. Name service error for name=b.example "
              "type=MX: Host not found, try again");
}

// ---- address step ------------------------------------------------------

TEST(AddressRules, SecureOnlyWhenBothAnswersAre) {
    auto a = answer<IpAddress>(Security::secure, {v4(1)});
    auto aaaa_secure_nodata = answer<IpAddress>(Security::secure, {});
    auto aaaa_insecure = answer<IpAddress>(Security::insecure, {});
    EXPECT_EQ(plan_addresses("h", a, aaaa_secure_nodata).security, Security::secure);
    EXPECT_EQ(plan_addresses("h", a, aaaa_insecure).security, Security::insecure);
}

TEST(AddressRules, BogusOrFailedLookupMeansHostNotUsed) {
    auto a = answer<IpAddress>(Security::secure, {v4(1)});
    auto bogus = with_outcome<IpAddress>(Security::bogus, Outcome::error);
    auto fail = with_outcome<IpAddress>(Security::failure, Outcome::error);
    for (const auto& bad : {bogus, fail}) {
        auto p1 = plan_addresses("mx.x", a, bad);
        ASSERT_TRUE(p1.failure);
        EXPECT_EQ(p1.failure->dsn, "4.4.3");
        EXPECT_FALSE(p1.failure->permanent);
        auto p2 = plan_addresses("mx.x", bad, a);
        ASSERT_TRUE(p2.failure);
    }
}

TEST(AddressRules, NoAddressAtAllIsPermanent) {
    auto none = with_outcome<IpAddress>(Security::secure, Outcome::nxdomain);
    auto p = plan_addresses("mx.x", none, none);
    ASSERT_TRUE(p.failure);
    EXPECT_TRUE(p.failure->permanent);
    EXPECT_EQ(p.failure->dsn, "5.4.4");
}

TEST(AddressRules, CnameExpansionOnlyWhenChainSecure) {
    auto a = answer<IpAddress>(Security::secure, {v4(1)}, "mail.target.example");
    auto aaaa = answer<IpAddress>(Security::secure, {}, "mail.target.example");
    EXPECT_EQ(plan_addresses("mx.x", a, aaaa).canonical, "mail.target.example");
    auto a_insecure = answer<IpAddress>(Security::insecure, {v4(1)}, "mail.target.example");
    EXPECT_EQ(plan_addresses("mx.x", a_insecure, aaaa).canonical, "mx.x");
}

// ---- TLSA names --------------------------------------------------------

AddressPlan secure_addrs(std::string canonical = "mx.x") {
    AddressPlan p;
    p.addresses = {v4(1)};
    p.security = Security::secure;
    p.canonical = std::move(canonical);
    return p;
}

DomainContext ctx(TlsLevel level = TlsLevel::dane, Security mx = Security::secure,
                  TlsLevel insecure_mx = TlsLevel::dane) {
    return DomainContext{"x", level, insecure_mx, mx, 25};
}

TEST(TlsaNames, ExpandedNameFirstThenOriginal) {
    EXPECT_EQ(tlsa_names(ctx(), "mx.x", secure_addrs("mail.y")),
              (std::vector<std::string>{"mail.y", "mx.x"}));
    EXPECT_EQ(tlsa_names(ctx(), "mx.x", secure_addrs()), (std::vector<std::string>{"mx.x"}));
}

TEST(TlsaNames, NoneWhenAddressesInsecureOrPolicyNotDane) {
    auto insecure = secure_addrs();
    insecure.security = Security::insecure;
    EXPECT_TRUE(tlsa_names(ctx(), "mx.x", insecure).empty());
    for (auto l : {TlsLevel::may, TlsLevel::encrypt, TlsLevel::verify, TlsLevel::none})
        EXPECT_TRUE(tlsa_names(ctx(l), "mx.x", secure_addrs()).empty());
    EXPECT_TRUE(
        tlsa_names(ctx(TlsLevel::dane, Security::insecure, TlsLevel::may), "mx.x", secure_addrs())
            .empty());
    EXPECT_FALSE(
        tlsa_names(ctx(TlsLevel::dane, Security::insecure, TlsLevel::dane), "mx.x", secure_addrs())
            .empty());
}

// ---- host step: the SPEC §5.4 table --------------------------------------

struct HostCase {
    const char* name;
    DomainContext context;
    AddressPlan addrs;
    std::vector<TlsaCandidate> tlsa;
    std::optional<std::string> dsn;  // expected failure
    TlsRequirement tls;
    bool half_dane;
    std::string base;  // expected TLSA base domain / SNI when DANE
};

void PrintTo(const HostCase& c, std::ostream* os) {
    *os << c.name;
}

class HostRules : public ::testing::TestWithParam<HostCase> {};

TEST_P(HostRules, Decide) {
    const auto& c = GetParam();
    auto plan = plan_host(c.context, "mx.x", c.addrs, c.tlsa);
    if (c.dsn) {
        ASSERT_TRUE(plan.failure) << c.name;
        EXPECT_EQ(plan.failure->dsn, *c.dsn) << c.name;
        return;
    }
    ASSERT_FALSE(plan.failure) << c.name << ": " << plan.failure->reason;
    EXPECT_EQ(plan.tls, c.tls) << c.name;
    EXPECT_EQ(plan.half_dane, c.half_dane) << c.name;
    if (c.tls == TlsRequirement::dane) {
        EXPECT_EQ(plan.tlsa_base, c.base) << c.name;
        EXPECT_FALSE(plan.tlsa.empty());
        EXPECT_EQ(plan.match_names.front(), c.base);
        EXPECT_EQ(plan.match_names.back(), "x") << "the next-hop domain is a reference id";
    }
}

TlsaCandidate cand(std::string base, Lookup<TlsaRecord> l) {
    return {std::move(base), std::move(l)};
}

const auto kGood = answer<TlsaRecord>(Security::secure, {tlsa(3, 1, 1)});
const auto kInsecureTlsa = answer<TlsaRecord>(Security::insecure, {tlsa(3, 1, 1)});
const auto kNoTlsa = with_outcome<TlsaRecord>(Security::secure, Outcome::nxdomain);
const auto kBogusTlsa = with_outcome<TlsaRecord>(Security::bogus, Outcome::error);
const auto kFailTlsa = with_outcome<TlsaRecord>(Security::failure, Outcome::error);

AddressPlan insecure_addrs() {
    auto p = secure_addrs();
    p.security = Security::insecure;
    return p;
}

INSTANTIATE_TEST_SUITE_P(
    Spec5_4, HostRules,
    ::testing::Values(
        HostCase{"usable 3 1 1 -> dane",
                 ctx(),
                 secure_addrs(),
                 {cand("mx.x", kGood)},
                 std::nullopt,
                 TlsRequirement::dane,
                 false,
                 "mx.x"},
        HostCase{"2 1 1 usable -> dane",
                 ctx(),
                 secure_addrs(),
                 {cand("mx.x", answer<TlsaRecord>(Security::secure, {tlsa(2, 1, 1)}))},
                 std::nullopt,
                 TlsRequirement::dane,
                 false,
                 "mx.x"},
        HostCase{"3 1 2 with 64 octets -> dane",
                 ctx(),
                 secure_addrs(),
                 {cand("mx.x", answer<TlsaRecord>(Security::secure, {tlsa(3, 1, 2, 64)}))},
                 std::nullopt,
                 TlsRequirement::dane,
                 false,
                 "mx.x"},
        HostCase{
            "only usages 0/1 -> encrypt",
            ctx(),
            secure_addrs(),
            {cand("mx.x", answer<TlsaRecord>(Security::secure, {tlsa(0, 0, 1), tlsa(1, 1, 1)}))},
            std::nullopt,
            TlsRequirement::encrypt,
            false,
            ""},
        HostCase{"wrong digest length is unusable -> encrypt",
                 ctx(),
                 secure_addrs(),
                 {cand("mx.x", answer<TlsaRecord>(Security::secure, {tlsa(3, 1, 1, 31)}))},
                 std::nullopt,
                 TlsRequirement::encrypt,
                 false,
                 ""},
        HostCase{
            "one usable among unusable -> dane",
            ctx(),
            secure_addrs(),
            {cand("mx.x", answer<TlsaRecord>(Security::secure,
                                             {tlsa(1, 1, 1), tlsa(3, 1, 1, 20), tlsa(3, 1, 1)}))},
            std::nullopt,
            TlsRequirement::dane,
            false,
            "mx.x"},
        HostCase{"secure denial -> may",
                 ctx(),
                 secure_addrs(),
                 {cand("mx.x", kNoTlsa)},
                 std::nullopt,
                 TlsRequirement::may,
                 false,
                 ""},
        HostCase{"insecure TLSA -> may",
                 ctx(),
                 secure_addrs(),
                 {cand("mx.x", kInsecureTlsa)},
                 std::nullopt,
                 TlsRequirement::may,
                 false,
                 ""},
        HostCase{"bogus TLSA -> host not used 4.7.5",
                 ctx(),
                 secure_addrs(),
                 {cand("mx.x", kBogusTlsa)},
                 "4.7.5",
                 TlsRequirement::may,
                 false,
                 ""},
        HostCase{"TLSA SERVFAIL -> host not used 4.7.5",
                 ctx(),
                 secure_addrs(),
                 {cand("mx.x", kFailTlsa)},
                 "4.7.5",
                 TlsRequirement::may,
                 false,
                 ""},
        HostCase{"insecure addresses -> may, no TLSA",
                 ctx(),
                 insecure_addrs(),
                 {},
                 std::nullopt,
                 TlsRequirement::may,
                 false,
                 ""},
        HostCase{"insecure MX + secure TLSA -> half-dane",
                 ctx(TlsLevel::dane, Security::insecure),
                 secure_addrs(),
                 {cand("mx.x", kGood)},
                 std::nullopt,
                 TlsRequirement::dane,
                 true,
                 "mx.x"},
        HostCase{"insecure MX + no TLSA -> may",
                 ctx(TlsLevel::dane, Security::insecure),
                 secure_addrs(),
                 {cand("mx.x", kNoTlsa)},
                 std::nullopt,
                 TlsRequirement::may,
                 false,
                 ""},
        HostCase{"insecure MX, insecure_mx_policy=encrypt",
                 ctx(TlsLevel::dane, Security::insecure, TlsLevel::encrypt),
                 secure_addrs(),
                 {},
                 std::nullopt,
                 TlsRequirement::encrypt,
                 false,
                 ""},
        HostCase{"insecure MX, insecure_mx_policy=may",
                 ctx(TlsLevel::dane, Security::insecure, TlsLevel::may),
                 secure_addrs(),
                 {},
                 std::nullopt,
                 TlsRequirement::may,
                 false,
                 ""},
        HostCase{"CNAME: TLSA at the expanded name",
                 ctx(),
                 secure_addrs("mail.y"),
                 {cand("mail.y", kGood), cand("mx.x", kNoTlsa)},
                 std::nullopt,
                 TlsRequirement::dane,
                 false,
                 "mail.y"},
        HostCase{"CNAME: none at expanded, then original",
                 ctx(),
                 secure_addrs("mail.y"),
                 {cand("mail.y", kNoTlsa), cand("mx.x", kGood)},
                 std::nullopt,
                 TlsRequirement::dane,
                 false,
                 "mx.x"},
        HostCase{"CNAME: bogus at expanded name is an error",
                 ctx(),
                 secure_addrs("mail.y"),
                 {cand("mail.y", kBogusTlsa), cand("mx.x", kGood)},
                 "4.7.5",
                 TlsRequirement::may,
                 false,
                 ""},
        HostCase{"dane-only without TLSA -> 4.7.5",
                 ctx(TlsLevel::dane_only),
                 secure_addrs(),
                 {cand("mx.x", kNoTlsa)},
                 "4.7.5",
                 TlsRequirement::may,
                 false,
                 ""},
        HostCase{"dane-only, insecure addresses -> 4.7.5",
                 ctx(TlsLevel::dane_only),
                 insecure_addrs(),
                 {},
                 "4.7.5",
                 TlsRequirement::may,
                 false,
                 ""},
        HostCase{"dane-only, unusable records -> 4.7.5",
                 ctx(TlsLevel::dane_only),
                 secure_addrs(),
                 {cand("mx.x", answer<TlsaRecord>(Security::secure, {tlsa(1, 1, 1)}))},
                 "4.7.5",
                 TlsRequirement::may,
                 false,
                 ""},
        HostCase{"dane-only with TLSA -> dane",
                 ctx(TlsLevel::dane_only),
                 secure_addrs(),
                 {cand("mx.x", kGood)},
                 std::nullopt,
                 TlsRequirement::dane,
                 false,
                 "mx.x"},
        HostCase{"policy may",
                 ctx(TlsLevel::may),
                 secure_addrs(),
                 {},
                 std::nullopt,
                 TlsRequirement::may,
                 false,
                 ""},
        HostCase{"policy encrypt",
                 ctx(TlsLevel::encrypt),
                 secure_addrs(),
                 {},
                 std::nullopt,
                 TlsRequirement::encrypt,
                 false,
                 ""},
        HostCase{"policy none",
                 ctx(TlsLevel::none),
                 secure_addrs(),
                 {},
                 std::nullopt,
                 TlsRequirement::none,
                 false,
                 ""},
        HostCase{"policy verify",
                 ctx(TlsLevel::verify),
                 insecure_addrs(),
                 {},
                 std::nullopt,
                 TlsRequirement::verify,
                 false,
                 ""}),
    case_name<HostCase>);

TEST(HostRules, UnusableNoteAsPostfixLogsIt) {
    auto plan = plan_host(ctx(), "mx.x", secure_addrs(),
                          {cand("mx.x", answer<TlsaRecord>(Security::secure, {tlsa(0, 0, 1)}))});
    ASSERT_EQ(plan.notes.size(), 1u);
    EXPECT_EQ(plan.notes[0], "mx.x: all TLSA records unusable, fallback to unauthenticated TLS");
}

TEST(HostRules, TlsaErrorText) {
    auto plan = plan_host(ctx(), "mx.x", secure_addrs(), {cand("mx.x", kBogusTlsa)});
    EXPECT_EQ(plan.failure->reason, "TLSA lookup error for mx.x:25");
}

TEST(HostRules, VerifyLevelMatchesHostOrDomain) {
    auto plan = plan_host(ctx(TlsLevel::verify), "mx.x", secure_addrs(), {});
    EXPECT_EQ(plan.match_names, (std::vector<std::string>{"mx.x", "x"}));
    EXPECT_EQ(plan.tlsa_base, "mx.x");
}

TEST(HostRules, OnlyUsableRecordsAreKept) {
    auto plan = plan_host(
        ctx(), "mx.x", secure_addrs(),
        {cand("mx.x", answer<TlsaRecord>(Security::secure, {tlsa(1, 1, 1), tlsa(3, 1, 1)}))});
    ASSERT_EQ(plan.tlsa.size(), 1u);
    EXPECT_EQ(plan.tlsa[0].usage, 3);
}

}  // namespace
}  // namespace dr::dane
