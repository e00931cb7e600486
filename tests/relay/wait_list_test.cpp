// The scheduler's list of deferred messages (relay/queue/wait_list.hpp): one entry per message
// at its earliest time, due ones taken in time order and at most as many as asked.
#include "relay/queue/wait_list.hpp"

#include <gtest/gtest.h>

namespace dr::relay {
namespace {

using std::chrono::seconds;
const WaitList::Time t0{};

// A valid ID whose last four base-36 digits are n (n < 36^4).
QueueKey key(int n) {
    std::string id(kQueueIdLength, '0');
    for (std::size_t i = kQueueIdLength; n > 0; n /= 36)
        id[--i] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[n % 36];
    return *QueueKey::from(id);
}

TEST(WaitList, OneEntryPerMessageAtItsEarliestTime) {
    WaitList w;
    w.add(key(1), t0 + seconds(10), 10, false);
    w.add(key(1), t0 + seconds(5), 5, true);     // earlier: replaces
    w.add(key(1), t0 + seconds(20), 20, false);  // later: ignored, announced sticks
    w.add(key(2), t0 + seconds(7), 7, false);
    EXPECT_EQ(w.size(), 2u);
    EXPECT_EQ(*w.next(), t0 + seconds(5));
    EXPECT_TRUE(w.take_due(t0 + seconds(4), 10).empty());
    auto due = w.take_due(t0 + seconds(7), 10);
    ASSERT_EQ(due.size(), 2u);
    EXPECT_EQ(due[0], (WaitList::Woken{key(1), 5, true}));
    EXPECT_EQ(due[1], (WaitList::Woken{key(2), 7, false}));
    EXPECT_TRUE(w.empty());
    EXPECT_FALSE(w.next());
}

TEST(WaitList, TakesAtMostMaxInTimeThenKeyOrder) {
    WaitList w;
    for (int i = 9; i >= 0; --i) w.add(key(i), t0, 0, false);
    auto a = w.take_due(t0, 3);
    ASSERT_EQ(a.size(), 3u);
    EXPECT_EQ(a[0].id, key(0));
    EXPECT_EQ(a[2].id, key(2));
    EXPECT_TRUE(w.contains(key(3)));
    EXPECT_FALSE(w.contains(key(2)));
    EXPECT_EQ(w.take_all().size(), 7u);
    EXPECT_TRUE(w.empty());
}

// A state read again (a release) does not move a wait made when the state was written.
TEST(WaitList, KeepExistingLeavesAWaitAlone) {
    WaitList w;
    w.add(key(1), t0 + seconds(20), 20, true);
    w.add(key(1), t0 + seconds(5), 5, false, WaitList::Keep::existing);
    EXPECT_EQ(*w.next(), t0 + seconds(20));
    EXPECT_EQ(w.announced(key(1)), true);
    EXPECT_EQ(w.announced(key(2)), std::nullopt);
    w.add(key(2), t0 + seconds(5), 5, false, WaitList::Keep::existing);  // not waiting: added
    EXPECT_EQ(*w.next(), t0 + seconds(5));
}

// A million deferred messages, taken in chunks as the scheduler does (within its active limit):
// every one comes out once, in time order.
TEST(WaitList, AMillionMessages) {
    WaitList w;
    const int n = 1000000;
    for (int i = 0; i < n; ++i) w.add(key(i), t0 + seconds(i % 97), i, true);
    EXPECT_EQ(w.size(), std::size_t(n));
    std::size_t taken = 0;
    auto last = t0;
    for (auto due = w.take_due(t0 + seconds(96), 5000); !due.empty();
         due = w.take_due(t0 + seconds(96), 5000)) {
        const auto when = t0 + seconds(due.front().wall_us % 97);
        EXPECT_GE(when, last);
        last = t0 + seconds(due.back().wall_us % 97);
        taken += due.size();
    }
    EXPECT_EQ(taken, std::size_t(n));
}

}  // namespace
}  // namespace dr::relay
