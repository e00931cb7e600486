// The spool's index at scale (SPOOL.md "Memory"): only what scheduling needs stays in memory;
// the whole MessageInfo of at most cache_limit messages is cached and the others are read back
// from their files, identical to what the cache held; summaries and listings come in pages.
#include <gtest/gtest.h>

#include "spool_test_util.hpp"

namespace dr::relay {
namespace {

using testing::sample_envelope;
using testing::TempDir;

std::unique_ptr<Spool> open_with_cache(const std::string& dir, std::size_t cache_limit) {
    std::error_code ec;
    SpoolOptions opt{dir, 0};
    opt.cache_limit = cache_limit;
    auto s = Spool::open(opt, ec);
    EXPECT_FALSE(ec) << ec.message();
    return s;
}

RcptState deferred(std::int64_t next, std::string reason) {
    RcptState st;
    st.status = RcptStatus::deferred;
    st.attempts = 1;
    st.next_attempt_us = next;
    st.dsn = "4.4.1";
    st.reason = std::move(reason);
    return st;
}

bool same(const MessageInfo& a, const MessageInfo& b) {
    return a.id == b.id && a.envelope == b.envelope && a.rcpts == b.rcpts &&
           a.body_size == b.body_size && a.file_size == b.file_size && a.held == b.held &&
           a.notice == b.notice;
}

TEST(SpoolIndex, ReadBackFromDiskEqualsTheCachedState) {
    TempDir dir;
    auto cached = open_with_cache(dir.path() + "/a", 100);
    auto uncached = open_with_cache(dir.path() + "/b", 0);
    for (auto* s : {cached.get(), uncached.get()}) {
        auto id = s->commit(sample_envelope(3), "body").id;
        ASSERT_FALSE(s->update(id, {{1, deferred(42, "connect refused")}}));
        ASSERT_FALSE(s->hold(id));
        ASSERT_FALSE(s->mark_notice(id, "none"));
    }
    auto a = cached->list(), b = uncached->list();
    ASSERT_EQ(a.size(), 1u);
    ASSERT_EQ(b.size(), 1u);
    b[0].id = a[0].id;  // different IDs and arrival times, same contents
    b[0].envelope.arrival_us = a[0].envelope.arrival_us;
    EXPECT_TRUE(same(a[0], b[0]));
    EXPECT_EQ(b[0].rcpts[1].reason, "connect refused");
    EXPECT_TRUE(b[0].held);
    EXPECT_EQ(b[0].notice, "none");
}

TEST(SpoolIndex, EvictedMessagesAreReadBackAndStillUpdated) {
    TempDir dir;
    auto s = open_with_cache(dir.path(), 2);
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(s->commit(sample_envelope(1), "b").id);
    // The first three were evicted by the last two commits.
    ASSERT_FALSE(s->update(ids[0], {{0, deferred(7, "later")}}));
    auto info = s->get(ids[0]);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->rcpts[0], deferred(7, "later"));
    EXPECT_EQ(info->envelope.recipients, sample_envelope(1).recipients);
    EXPECT_EQ(info->envelope.sender, sample_envelope(1).sender);
    ASSERT_FALSE(s->remove(ids[1]));
    EXPECT_FALSE(s->get(ids[1]));
    EXPECT_EQ(s->size(), 4u);
    // Reopened: the same states, from the files.
    s.reset();
    auto again = open_with_cache(dir.path(), 0);
    auto back = again->get(ids[0]);
    ASSERT_TRUE(back);
    EXPECT_TRUE(same(*back, *info));
}

TEST(SpoolIndex, SummariesInPages) {
    TempDir dir;
    auto s = open_with_cache(dir.path(), 0);
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(s->commit(sample_envelope(2), "b").id);
    ASSERT_FALSE(s->update(ids[1], {{0, deferred(50, "x")}, {1, deferred(30, "y")}}));
    RcptState done;
    done.status = RcptStatus::delivered;
    ASSERT_FALSE(s->update(ids[2], {{0, done}, {1, done}}));
    ASSERT_FALSE(s->update(ids[3], {{0, done}, {1, deferred(90, "z")}}));
    ASSERT_FALSE(s->hold(ids[4]));
    auto first = s->summaries("", 3);
    ASSERT_EQ(first.size(), 3u);
    auto rest = s->summaries(first.back().id, 3);
    ASSERT_EQ(rest.size(), 2u);
    EXPECT_TRUE(s->summaries(rest.back().id, 3).empty());
    EXPECT_EQ(first[0].id, ids[0]);
    EXPECT_EQ(first[0].next_attempt_us, 0);  // pending
    EXPECT_FALSE(first[0].done);
    EXPECT_EQ(first[1].next_attempt_us, 30);  // the earlier of the two
    EXPECT_TRUE(first[2].done);
    EXPECT_EQ(rest[0].next_attempt_us, 90);  // the delivered one does not count
    EXPECT_TRUE(rest[1].held);
    auto page = s->list(ids[1], 2);
    ASSERT_EQ(page.size(), 2u);
    EXPECT_EQ(page[0].id, ids[2]);
    EXPECT_EQ(page[1].id, ids[3]);
}

TEST(SpoolIndex, UnknownAndMalformedIds) {
    TempDir dir;
    auto s = open_with_cache(dir.path(), 0);
    EXPECT_FALSE(s->get("nope"));
    EXPECT_EQ(s->update("nope", {}), SpoolErrc::not_found);
    EXPECT_EQ(s->remove("0000000000ZZZZ"), SpoolErrc::not_found);
    EXPECT_TRUE(s->list("garbage", 10).empty());
}

}  // namespace
}  // namespace dr::relay
