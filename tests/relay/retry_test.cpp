// Backoff and next state (relay/queue/retry.hpp), from SPEC §4: first retry after
// minimal_backoff, doubling, at most maximal_backoff between tries; a deferral at or past
// maximal_queue_lifetime becomes a bounce; a bounce whose notice failed is deferred again.
#include "relay/queue/retry.hpp"

#include <gtest/gtest.h>

namespace dr::relay {
namespace {

using namespace std::chrono_literals;

conf::QueueConfig queue() {
    conf::QueueConfig q;
    q.minimal_backoff = 300s;
    q.maximal_backoff = 3600s;
    q.maximal_queue_lifetime = 5 * 24h;
    return q;
}

constexpr std::int64_t kSecond = 1000000;

TEST(Backoff, DoublesFromMinimalUpToMaximal) {
    auto q = queue();
    EXPECT_EQ(backoff(q, 1), 300s);
    EXPECT_EQ(backoff(q, 2), 600s);
    EXPECT_EQ(backoff(q, 3), 1200s);
    EXPECT_EQ(backoff(q, 4), 2400s);
    EXPECT_EQ(backoff(q, 5), 3600s);
    EXPECT_EQ(backoff(q, 1000), 3600s);  // no overflow however many attempts
}

TEST(Backoff, MinimalAboveMaximalIsCapped) {
    auto q = queue();
    q.minimal_backoff = 7200s;
    EXPECT_EQ(backoff(q, 1), 3600s);
}

TEST(NextState, SentAndBouncedAreFinal) {
    auto q = queue();
    RcptState st;
    auto sent = next_state(st, RecipientState::sent, "2.0.0", "250 ok", 0, 10 * kSecond, q);
    EXPECT_EQ(sent.status, RcptStatus::delivered);
    EXPECT_EQ(sent.attempts, 1u);
    EXPECT_EQ(sent.reason, "250 ok");
    auto bounced = next_state(st, RecipientState::bounced, "5.1.1", "no", 0, 10 * kSecond, q);
    EXPECT_EQ(bounced.status, RcptStatus::bounced);
    EXPECT_EQ(bounced.dsn, "5.1.1");
    EXPECT_FALSE(expired(RecipientState::bounced, bounced));
}

TEST(NextState, DeferralWaitsForTheBackoffOfItsAttempt) {
    auto q = queue();
    RcptState st;
    st.attempts = 2;  // this is the third attempt: 1200 s
    const std::int64_t now = 1000 * kSecond;
    auto d = next_state(st, RecipientState::deferred, "4.7.5", "not verified", 0, now, q);
    EXPECT_EQ(d.status, RcptStatus::deferred);
    EXPECT_EQ(d.attempts, 3u);
    EXPECT_EQ(d.next_attempt_us, now + 1200 * kSecond);
    EXPECT_EQ(d.dsn, "4.7.5");
    EXPECT_FALSE(expired(RecipientState::deferred, d));
}

TEST(NextState, ExpiresAtMaximalQueueLifetime) {
    auto q = queue();
    const std::int64_t arrival = 50 * kSecond;
    const std::int64_t lifetime = 5 * 24 * 3600 * kSecond;
    auto just_before =
        next_state({}, RecipientState::deferred, "4.4.1", "t", arrival, arrival + lifetime - 1, q);
    EXPECT_EQ(just_before.status, RcptStatus::deferred);
    auto at =
        next_state({}, RecipientState::deferred, "4.4.1", "t", arrival, arrival + lifetime, q);
    EXPECT_EQ(at.status, RcptStatus::bounced);
    EXPECT_EQ(at.dsn, "4.4.1");  // the notice reports the last reason
    EXPECT_TRUE(expired(RecipientState::deferred, at));
}

}  // namespace
}  // namespace dr::relay
