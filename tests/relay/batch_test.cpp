// The scheduler's grouping and batching (relay/queue/batch.hpp), SPEC §4: recipients grouped
// by destination domain, up to `batch` messages per connection, all of a message's due
// recipients in the same batch, arrival order kept; workers bounded globally and per
// destination; free slots handed out fairly, slow destinations within their share (SPEC §12).
#include "relay/queue/batch.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace dr::relay {
namespace {

TEST(RecipientDomain, LowerCaseWithoutTrailingDot) {
    EXPECT_EQ(recipient_domain("Bob@Example.ORG"), "example.org");
    EXPECT_EQ(recipient_domain("a@b@example.net."), "example.net");
    EXPECT_EQ(recipient_domain("\"x@y\"@example.com"), "example.com");
    EXPECT_EQ(recipient_domain("postmaster"), "");
}

// RFC 8689: REQUIRETLS and "TLS-Required: No" messages queue apart from the others.
TEST(QueueKey, EachTlsAskHasItsQueueAndSplitsBack) {
    EXPECT_EQ(queue_key("a.test", TlsAsk::policy), "a.test");
    for (auto ask : {TlsAsk::policy, TlsAsk::requiretls, TlsAsk::optional}) {
        auto back = split_queue_key(queue_key("a.test", ask));
        EXPECT_EQ(back.first, "a.test");
        EXPECT_EQ(back.second, ask);
    }
    EXPECT_NE(queue_key("a.test", TlsAsk::requiretls), queue_key("a.test", TlsAsk::optional));
}

TEST(TakeBatch, UpToMaxMessagesInArrivalOrder) {
    std::vector<DueRecipient> due{{"A", 0}, {"B", 0}, {"C", 0}, {"D", 0}};
    auto b = take_batch(due, 2);
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b[0], (BatchedMessage{"A", {0}}));
    EXPECT_EQ(b[1], (BatchedMessage{"B", {0}}));
    EXPECT_EQ(due, (std::vector<DueRecipient>{{"C", 0}, {"D", 0}}));
    auto rest = take_batch(due, 50);
    EXPECT_EQ(rest.size(), 2u);
    EXPECT_TRUE(due.empty());
}

TEST(TakeBatch, AMessageIsNeverSplitAcrossBatches) {
    // A's second recipient came due later (a retry) and sits behind B and C.
    std::vector<DueRecipient> due{{"A", 0}, {"B", 0}, {"C", 0}, {"A", 2}, {"C", 1}};
    auto b = take_batch(due, 2);
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b[0], (BatchedMessage{"A", {0, 2}}));
    EXPECT_EQ(b[1], (BatchedMessage{"B", {0}}));
    EXPECT_EQ(due, (std::vector<DueRecipient>{{"C", 0}, {"C", 1}}));
}

TEST(TakeBatch, DuplicateEntriesAreSentOnce) {
    std::vector<DueRecipient> due{{"A", 1}, {"A", 1}};
    auto b = take_batch(due, 50);
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(b[0].rcpts, (std::vector<std::size_t>{1}));
}

TEST(TakeBatch, EmptyAndZero) {
    std::vector<DueRecipient> none;
    EXPECT_TRUE(take_batch(none, 50).empty());
    std::vector<DueRecipient> due{{"A", 0}};
    EXPECT_TRUE(take_batch(due, 0).empty());
    EXPECT_EQ(due.size(), 1u);  // nothing lost
}

TEST(Workers, OnePerBatchOfQueuedRecipientsWithinBothLimits) {
    WorkerLimits l{100, 20, 50, 25};
    EXPECT_FALSE(may_start_worker(0, 0, 0, l));       // nothing to do
    EXPECT_TRUE(may_start_worker(1, 0, 0, l));        // first worker
    EXPECT_FALSE(may_start_worker(50, 1, 1, l));      // one worker has a full batch
    EXPECT_TRUE(may_start_worker(51, 1, 1, l));       // more than one batch: a second
    EXPECT_FALSE(may_start_worker(5000, 20, 20, l));  // destination_concurrency
    EXPECT_FALSE(may_start_worker(5000, 3, 100, l));  // concurrency, all destinations
    EXPECT_TRUE(may_start_worker(5000, 19, 99, l));
}

// SPEC §12 fairness: every destination gets its first worker before any gets a second,
// starting at `first` and wrapping.
TEST(Fairness, FirstWorkersGoRoundRobinBeforeSeconds) {
    WorkerLimits l{4, 20, 1, 25};
    std::vector<DestinationLoad> d{{10, 0, Pace::fast}, {10, 0, Pace::fast}, {10, 0, Pace::fast}};
    EXPECT_EQ(choose_starts(d, 0, 0, 0, l), (std::vector<std::size_t>{0, 1, 2, 0}));
    EXPECT_EQ(choose_starts(d, 2, 0, 0, l), (std::vector<std::size_t>{2, 0, 1, 2}));
    // One already busy with two workers waits until the others have as many.
    d[0].running = 2;
    EXPECT_EQ(choose_starts(d, 0, 2, 0, l), (std::vector<std::size_t>{1, 2}));
}

// A long list of busy destinations ahead of it cannot starve the last one.
TEST(Fairness, ManyBusyDestinationsDoNotStarveTheLast) {
    WorkerLimits l{150, 20, 1, 25};
    std::vector<DestinationLoad> d(200, DestinationLoad{50, 0, Pace::unknown});
    d.back().queued = 1;
    auto got = choose_starts(d, 0, 0, 0, l);
    EXPECT_EQ(got.size(), 150u);  // concurrency
    // Handed out from `first` on; a later pump starts behind the last served (the scheduler
    // keeps that), so the one at the end is reached within two pumps.
    auto next = choose_starts(d, got.back() + 1, 0, 0, l);
    EXPECT_NE(std::find(next.begin(), next.end(), 199u), next.end());
}

// Slow destinations together hold at most slow_concurrency slots; the rest stay free for
// the others, however many slow ones there are.
TEST(Fairness, SlowDestinationsShareACap) {
    WorkerLimits l{100, 20, 1, 10};
    std::vector<DestinationLoad> d(150, DestinationLoad{5, 0, Pace::slow});
    d.push_back({5, 0, Pace::unknown});  // one healthy destination at the very end
    auto got = choose_starts(d, 0, 0, 0, l);
    std::size_t slow = 0, healthy = 0;
    for (auto i : got) (d[i].pace == Pace::slow ? slow : healthy) += 1;
    EXPECT_EQ(slow, 10u);
    EXPECT_EQ(healthy, 5u);  // within destination_concurrency and its queue
    // With the slow share already taken, only the healthy one starts.
    EXPECT_EQ(choose_starts(d, 0, 10, 10, l), (std::vector<std::size_t>{150, 150, 150, 150, 150}));
}

// Within a round, a destination that works goes before unknown ones, and those before slow
// ones: a crowd of untried tarpits ahead in the list does not delay mail that flows.
TEST(Fairness, FastBeforeUnknownBeforeSlow) {
    WorkerLimits l{3, 20, 1, 25};
    std::vector<DestinationLoad> d{
        {5, 0, Pace::slow}, {5, 0, Pace::unknown}, {5, 0, Pace::unknown}, {5, 0, Pace::fast}};
    EXPECT_EQ(choose_starts(d, 0, 0, 0, l), (std::vector<std::size_t>{3, 1, 2}));
    l.concurrency = 5;
    // Second workers only after every destination has its first.
    EXPECT_EQ(choose_starts(d, 0, 0, 0, l), (std::vector<std::size_t>{3, 1, 2, 0, 3}));
}

TEST(Fairness, NothingToDoOrNoRoom) {
    WorkerLimits l{2, 20, 50, 25};
    EXPECT_TRUE(choose_starts({}, 0, 0, 0, l).empty());
    std::vector<DestinationLoad> d{{10, 0, Pace::unknown}};
    EXPECT_TRUE(choose_starts(d, 0, 2, 0, l).empty());   // concurrency reached
    EXPECT_EQ(choose_starts(d, 0, 0, 0, l).size(), 1u);  // 10 queued: one batch of 50
}

// DueQueue batches exactly as take_batch does on a vector, whatever the order of arrivals.
TEST(DueQueue, BatchesLikeTakeBatch) {
    std::vector<DueRecipient> due{{"A", 0}, {"B", 0}, {"C", 0}, {"A", 2}, {"C", 1},
                                  {"D", 0}, {"A", 2}, {"E", 3}, {"B", 1}};
    DueQueue q;
    for (const auto& d : due) q.add(d.id, d.rcpt);
    EXPECT_EQ(q.recipients(), 8u);  // the second {"A", 2} is a duplicate
    while (!due.empty()) {
        auto want = take_batch(due, 2);
        EXPECT_EQ(q.take(2), want);
    }
    EXPECT_TRUE(q.empty());
    EXPECT_TRUE(q.take(2).empty());
}

TEST(DueQueue, AddAfterTakeStartsAfresh) {
    DueQueue q;
    EXPECT_TRUE(q.add("A", 0));
    EXPECT_FALSE(q.add("A", 0));
    EXPECT_EQ(q.take(50), (std::vector<BatchedMessage>{{"A", {0}}}));
    EXPECT_TRUE(q.add("A", 0));  // due again (a retry): a new entry at the back
    EXPECT_TRUE(q.add("B", 1));
    EXPECT_EQ(q.take(1), (std::vector<BatchedMessage>{{"A", {0}}}));
    EXPECT_EQ(q.recipients(), 1u);
}

// The point of DueQueue: a batch from a long queue costs the batch, not the queue (take_batch
// rebuilt the whole vector each time). 200,000 messages in batches of 50 (4,000 batches).
TEST(DueQueue, ALongQueueDrainsInBatches) {
    DueQueue q;
    const std::size_t n = 200000;
    for (std::size_t i = 0; i < n; ++i) q.add(std::to_string(i), 0);
    std::size_t taken = 0, batches = 0;
    for (auto b = q.take(50); !b.empty(); b = q.take(50)) {
        EXPECT_EQ(b.front().id, std::to_string(taken));
        taken += b.size();
        ++batches;
    }
    EXPECT_EQ(taken, n);
    EXPECT_EQ(batches, n / 50);
}

}  // namespace
}  // namespace dr::relay
