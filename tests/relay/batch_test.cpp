// The scheduler's grouping and batching (relay/queue/batch.hpp), SPEC §4: recipients grouped
// by destination domain, up to `batch` messages per connection, all of a message's due
// recipients in the same batch, arrival order kept; workers bounded globally and per
// destination.
#include "relay/queue/batch.hpp"

#include <gtest/gtest.h>

namespace dr::relay {
namespace {

TEST(RecipientDomain, LowerCaseWithoutTrailingDot) {
    EXPECT_EQ(recipient_domain("Bob@Example.ORG"), "example.org");
    EXPECT_EQ(recipient_domain("a@b@example.net."), "example.net");
    EXPECT_EQ(recipient_domain("\"x@y\"@example.com"), "example.com");
    EXPECT_EQ(recipient_domain("postmaster"), "");
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
    WorkerLimits l{100, 20, 50};
    EXPECT_FALSE(may_start_worker(0, 0, 0, l));       // nothing to do
    EXPECT_TRUE(may_start_worker(1, 0, 0, l));        // first worker
    EXPECT_FALSE(may_start_worker(50, 1, 1, l));      // one worker has a full batch
    EXPECT_TRUE(may_start_worker(51, 1, 1, l));       // more than one batch: a second
    EXPECT_FALSE(may_start_worker(5000, 20, 20, l));  // destination_concurrency
    EXPECT_FALSE(may_start_worker(5000, 3, 100, l));  // concurrency, all destinations
    EXPECT_TRUE(may_start_worker(5000, 19, 99, l));
}

}  // namespace
}  // namespace dr::relay
