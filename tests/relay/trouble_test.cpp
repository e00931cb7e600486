// The failure policy (relay/queue/trouble.hpp), case by case: soft or hard failure, last host
// or not, and a bounce whose notice cannot be queued. Expected values come from RFC 5321
// §4.5.4.1 and Postfix's smtp_trouble.c (a 4xx moves on to the next MX host and defers only at
// the last; a 5xx bounces; a soft error anywhere makes the attempt soft; a bounce that cannot
// be recorded is deferred), not from our output.
#include "relay/queue/trouble.hpp"

#include <gtest/gtest.h>

namespace dr::relay {
namespace {

using smtp::DeliveryStatus;

struct Case {
    const char* name;
    bool permanent;
    bool last_host;
    bool notice_queued;
    FailureAction want;
};

class FailurePolicy : public ::testing::TestWithParam<Case> {};

TEST_P(FailurePolicy, Decides) {
    const auto& c = GetParam();
    auto status = c.permanent ? DeliveryStatus::perm("5.1.1", "User unknown")
                              : DeliveryStatus::temp("4.7.5", "Server certificate not verified");
    auto action = on_notice_failure(on_failure(status, c.last_host), c.notice_queued);
    EXPECT_EQ(to_string(action), std::string(to_string(c.want)));
}

INSTANTIATE_TEST_SUITE_P(
    AllCases, FailurePolicy,
    ::testing::Values(Case{"soft_not_last", false, false, true, FailureAction::next_host},
                      Case{"soft_last", false, true, true, FailureAction::defer},
                      Case{"hard_not_last", true, false, true, FailureAction::bounce},
                      Case{"hard_last", true, true, true, FailureAction::bounce},
                      // The notice could not be queued: a bounce waits as a deferral.
                      Case{"soft_not_last_no_notice", false, false, false,
                           FailureAction::next_host},
                      Case{"soft_last_no_notice", false, true, false, FailureAction::defer},
                      Case{"hard_not_last_no_notice", true, false, false, FailureAction::defer},
                      Case{"hard_last_no_notice", true, true, false, FailureAction::defer}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(AttemptTrouble, NothingNotedIsASoftNoHostFailure) {
    AttemptTrouble t;
    EXPECT_FALSE(t.any());
    auto v = t.verdict();
    EXPECT_TRUE(v.temporary());
    EXPECT_EQ(v.dsn, "4.4.3");
    EXPECT_EQ(t.relay(), "none");
}

TEST(AttemptTrouble, TheLastFailureStands) {
    AttemptTrouble t;
    t.note(DeliveryStatus::temp("4.4.1", "connect timed out"), "mx1[192.0.2.1]:25");
    t.note(DeliveryStatus::temp("4.7.5", "Server certificate not verified"), "mx2[192.0.2.2]:25");
    EXPECT_EQ(t.verdict().dsn, "4.7.5");
    EXPECT_EQ(t.verdict().reason, "Server certificate not verified");
    EXPECT_EQ(t.relay(), "mx2[192.0.2.2]:25");
}

TEST(AttemptTrouble, HardOnlyWhenEveryFailureWasHard) {
    AttemptTrouble hard;
    hard.note(DeliveryStatus::perm("5.1.1", "a"), "mx1");
    hard.note(DeliveryStatus::perm("5.7.1", "b"), "mx2");
    EXPECT_TRUE(hard.verdict().permanent());

    // One host deferred, the other rejected: the mail is deferred, with the last reason.
    AttemptTrouble mixed;
    mixed.note(DeliveryStatus::temp("4.4.1", "a"), "mx1");
    mixed.note(DeliveryStatus::perm("5.7.1", "b"), "mx2");
    EXPECT_TRUE(mixed.verdict().temporary());
    EXPECT_EQ(mixed.verdict().dsn, "5.7.1");
}

TEST(AttemptTrouble, DnsFailuresCountWithTheirKind) {
    AttemptTrouble t;
    t.note(dane::Failure{true, "5.1.10", "Domain x does not accept mail (nullMX)"});
    EXPECT_TRUE(t.verdict().permanent());
    EXPECT_EQ(t.relay(), "none");
    t.note(dane::Failure{false, "4.7.5", "TLSA lookup error for mx.x:25"});
    EXPECT_TRUE(t.verdict().temporary());
}

}  // namespace
}  // namespace dr::relay
