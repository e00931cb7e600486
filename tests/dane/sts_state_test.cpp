// Which MTA-STS policy applies (dane/sts_state.hpp): fetch on a new id or without a fresh
// cache, keep a fresh cached policy through TXT and fetch failures and bad policies, drop
// it only when it expires or a mode none policy replaces it.
#include "dane/sts_state.hpp"

#include <gtest/gtest.h>

namespace dr::dane {
namespace {

constexpr std::int64_t kNow = 1'800'000'000;

StsCached cached(std::string id, std::int64_t fetched, std::uint32_t max_age = 86400) {
    return StsCached{std::move(id), fetched, StsPolicy{StsMode::enforce, max_age, {"mx.a.test"}},
                     ""};
}

StsTxt record(std::string id) {
    return {StsTxt::Kind::record, std::move(id), ""};
}

StsFetch body(std::string text) {
    return {StsFetch::Kind::body, std::move(text), ""};
}

const char* kTesting = "version: STSv1\nmode: testing\nmx: mx.b.test\nmax_age: 600\n";

Lookup<std::string> txt(Security sec, Outcome out, std::vector<std::string> records = {}) {
    Lookup<std::string> l;
    l.security = sec;
    l.outcome = out;
    l.records = std::move(records);
    return l;
}

// RFC 8461 §3.1: exactly one valid STSv1 record, others ignored; no record is "none", a
// failed or bogus lookup is "failed" (a cached policy then still applies).
TEST(StsState, TxtLookupsAsStsTxt) {
    using Kind = StsTxt::Kind;
    auto one = sts_txt_from(
        txt(Security::insecure, Outcome::found, {"v=spf1 -all", "v=STSv1; id=20261203T1;"}));
    EXPECT_EQ(one.kind, Kind::record);
    EXPECT_EQ(one.id, "20261203T1");
    EXPECT_EQ(sts_txt_from(txt(Security::secure, Outcome::found, {"v=STSv1; id=a1;"})).id, "a1");
    auto two =
        sts_txt_from(txt(Security::secure, Outcome::found, {"v=STSv1; id=a1;", "v=STSv1; id=a2;"}));
    EXPECT_EQ(two.kind, Kind::none);
    EXPECT_FALSE(two.why.empty());
    EXPECT_EQ(sts_txt_from(txt(Security::secure, Outcome::found, {"v=STSv1; id=;"})).kind,
              Kind::none);
    EXPECT_EQ(sts_txt_from(txt(Security::secure, Outcome::found, {"v=spf1 -all"})).kind,
              Kind::none);
    EXPECT_EQ(sts_txt_from(txt(Security::secure, Outcome::nxdomain)).kind, Kind::none);
    EXPECT_EQ(sts_txt_from(txt(Security::insecure, Outcome::nodata)).kind, Kind::none);
    EXPECT_EQ(sts_txt_from(txt(Security::failure, Outcome::error)).kind, Kind::failed);
    auto bogus = txt(Security::bogus, Outcome::found, {"v=STSv1; id=a1;"});
    bogus.why = "signature expired";
    EXPECT_EQ(sts_txt_from(bogus).kind, Kind::failed);
    EXPECT_EQ(sts_txt_from(bogus).why, "bogus: signature expired");
    auto broken = txt(Security::secure, Outcome::found, {"v=STSv1; id=a1;"});
    broken.malformed = 1;
    EXPECT_EQ(sts_txt_from(broken).kind, Kind::failed);
}

TEST(StsState, FreshIsWithinMaxAgeOfTheFetch) {
    auto c = cached("a", kNow - 100, 100);
    EXPECT_FALSE(c.fresh(kNow));
    EXPECT_TRUE(c.fresh(kNow - 1));
    EXPECT_FALSE(c.fresh(kNow - 101));  // a clock before the fetch trusts nothing
}

TEST(StsState, NoCacheAndARecordFetches) {
    EXPECT_EQ(sts_first_step(record("a"), std::nullopt, kNow).what, StsStep::Do::fetch);
}

TEST(StsState, TheSameIdUsesTheCacheAndConfirmsIt) {
    auto s = sts_first_step(record("a"), cached("a", kNow - 10), kNow);
    EXPECT_EQ(s.what, StsStep::Do::apply_cached);
    EXPECT_TRUE(s.confirmed);
}

TEST(StsState, ANewIdOrAnExpiredCacheFetches) {
    EXPECT_EQ(sts_first_step(record("b"), cached("a", kNow - 10), kNow).what, StsStep::Do::fetch);
    EXPECT_EQ(sts_first_step(record("a"), cached("a", kNow - 86400), kNow).what,
              StsStep::Do::fetch);
}

TEST(StsState, NoRecordOrAFailedLookupKeepsAFreshCache) {
    for (auto kind : {StsTxt::Kind::none, StsTxt::Kind::failed}) {
        auto s = sts_first_step({kind, "", ""}, cached("a", kNow - 10), kNow);
        EXPECT_EQ(s.what, StsStep::Do::apply_cached);
        EXPECT_FALSE(s.confirmed);
        EXPECT_EQ(sts_first_step({kind, "", ""}, cached("a", kNow - 86400), kNow).what,
                  StsStep::Do::no_policy);
        EXPECT_EQ(sts_first_step({kind, "", ""}, std::nullopt, kNow).what, StsStep::Do::no_policy);
    }
}

TEST(StsState, AGoodFetchAppliesAndIsCached) {
    auto o = sts_after_fetch("b", body(kTesting), cached("a", kNow - 10), kNow);
    ASSERT_TRUE(o.apply);
    EXPECT_EQ(o.apply->mode, StsMode::testing);
    ASSERT_TRUE(o.store);
    EXPECT_EQ(o.store->id, "b");
    EXPECT_EQ(o.store->fetched, kNow);
    EXPECT_EQ(o.store->policy.max_age, 600u);
    EXPECT_EQ(o.store->text, kTesting);
    EXPECT_EQ(o.failure, "");
}

TEST(StsState, ModeNoneIsCachedAndWithdrawsThePolicy) {
    auto o = sts_after_fetch("c", body("version: STSv1\nmode: none\nmax_age: 60\n"),
                             cached("a", kNow - 10), kNow);
    EXPECT_FALSE(o.apply);
    ASSERT_TRUE(o.store);
    EXPECT_EQ(o.store->policy.mode, StsMode::none);
}

TEST(StsState, FailuresKeepAFreshCacheAndAreReported) {
    const StsFetch failures[] = {
        {StsFetch::Kind::fetch_error, "", "HTTP 302"},
        {StsFetch::Kind::webpki_error, "", "certificate has expired"},
        body("version: STSv1\nmode: enforce\nmax_age: 600\n"),  // enforce without mx
    };
    const char* types[] = {"sts-policy-fetch-error", "sts-webpki-invalid", "sts-policy-invalid"};
    for (int i = 0; i < 3; ++i) {
        auto kept = sts_after_fetch("b", failures[i], cached("a", kNow - 10), kNow);
        ASSERT_TRUE(kept.apply) << types[i];
        EXPECT_EQ(kept.apply->mx, std::vector<std::string>{"mx.a.test"});
        EXPECT_FALSE(kept.store);  // the old entry stays as it was
        EXPECT_EQ(kept.failure, types[i]);
        EXPECT_FALSE(kept.why.empty());
        // Nothing fresh cached: no policy, and still reported.
        auto none = sts_after_fetch("b", failures[i], cached("a", kNow - 86400), kNow);
        EXPECT_FALSE(none.apply);
        EXPECT_FALSE(none.store);
        EXPECT_EQ(none.failure, types[i]);
    }
}

}  // namespace
}  // namespace dr::dane
