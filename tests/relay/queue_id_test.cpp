// Queue IDs: format, ordering by time, uniqueness within a process and across generators.
#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

#include "relay/spool/queue_id.hpp"

namespace dr::relay {
namespace {

TEST(QueueId, PostfixStyleFormat) {
    QueueIdGenerator gen;
    auto id = gen.next();
    EXPECT_EQ(id.size(), kQueueIdLength);
    EXPECT_GE(id.size(), 10u);
    EXPECT_LE(id.size(), 16u);
    for (char c : id) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')) << id;
    EXPECT_TRUE(is_valid_queue_id(id));
}

TEST(QueueId, Validation) {
    EXPECT_FALSE(is_valid_queue_id(""));
    EXPECT_FALSE(is_valid_queue_id("0123456789ABC"));    // 13
    EXPECT_FALSE(is_valid_queue_id("0123456789ABCDE"));  // 15
    EXPECT_FALSE(is_valid_queue_id("0123456789abcd"));   // lower case
    EXPECT_FALSE(is_valid_queue_id("0123456789AB.D"));
    EXPECT_FALSE(is_valid_queue_id("../../etc/pass"));
    EXPECT_TRUE(is_valid_queue_id("0123456789ABCD"));
}

TEST(QueueId, EncodesTimeAndSortsByIt) {
    QueueIdGenerator gen;
    const std::uint64_t t = 1'763'925'601'123'456ULL;  // 2025-11-23
    auto a = gen.next_at(t);
    auto b = gen.next_at(t + 1'000'000);
    EXPECT_EQ(queue_id_micros(a), t);
    EXPECT_LT(a, b);
    EXPECT_EQ(queue_id_micros("not-an-id"), 0u);
}

TEST(QueueId, ClockGoingBackwardsStillUnique) {
    QueueIdGenerator gen;
    std::set<std::string> ids;
    for (int i = 0; i < 1000; ++i) ids.insert(gen.next_at(5'000'000 - (i % 7)));
    EXPECT_EQ(ids.size(), 1000u);
}

TEST(QueueId, UniqueAcrossThreads) {
    QueueIdGenerator gen;
    std::vector<std::vector<std::string>> per(8);
    std::vector<std::thread> threads;
    for (auto& v : per) {
        threads.emplace_back([&gen, &v] {
            for (int i = 0; i < 20000; ++i) v.push_back(gen.next());
        });
    }
    for (auto& t : threads) t.join();
    std::set<std::string> all;
    for (auto& v : per) all.insert(v.begin(), v.end());
    EXPECT_EQ(all.size(), 8u * 20000u);
}

// Two generators with the same clock reading stand for two process lifetimes whose clocks
// overlap (restart after the clock was set back): the random suffix keeps them apart.
TEST(QueueId, RestartsWithSameClockDiffer) {
    std::set<std::string> all;
    for (int restart = 0; restart < 200; ++restart) {
        QueueIdGenerator gen;
        for (int i = 0; i < 5; ++i) all.insert(gen.next_at(42'000'000 + i));
    }
    // 200 IDs per time slot with 36^4 suffixes: about 0.06 expected collisions in total, so
    // more than two is a bug (without the suffix there would be 995).
    EXPECT_GE(all.size(), 998u);
}

}  // namespace
}  // namespace dr::relay
