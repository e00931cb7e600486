// Concurrent commits: unique IDs, all durable, directory fsyncs shared (group commit), and the
// Asio front end completing on the caller's executor for co_await.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "relay/spool/async_spool.hpp"
#include "relay/spool/dir_sync.hpp"
#include "spool_test_util.hpp"

namespace dr::relay {
namespace {

namespace asio = boost::asio;
using testing::TempDir;

// fdatasync waits (while armed) until released; `holding` says one is waiting.
class HoldIo : public SpoolIo {
  public:
    std::mutex mu;
    std::condition_variable cv;
    bool armed = false, holding = false;

  protected:
    int inject(SpoolCall c) override {
        std::unique_lock lock(mu);
        if (c != SpoolCall::fdatasync || !armed) return 0;
        holding = true;
        cv.notify_all();
        cv.wait(lock, [&] { return !armed; });
        return 0;
    }
};

// The queue's loop asks for a message's state while another thread's journal write of the
// same message waits in fdatasync: the cached, durable state comes back at once, the new
// one once the write is done.
TEST(SpoolConcurrency, ACachedReadDoesNotWaitForAJournalFsync) {
    TempDir tmp;
    HoldIo io;
    std::error_code ec;
    auto spool = Spool::open({tmp.path(), 0, &io}, ec);
    ASSERT_FALSE(ec) << ec.message();
    const auto id = spool->commit(testing::sample_envelope(1), "body\r\n").id;
    ASSERT_TRUE(spool->get(id));  // now cached
    {
        std::lock_guard lock(io.mu);
        io.armed = true;
    }
    std::thread writer([&] { spool->update(id, {{0, testing::deferred(1, "held")}}); });
    {
        std::unique_lock lock(io.mu);
        io.cv.wait(lock, [&] { return io.holding; });
    }
    auto read = std::async(std::launch::async, [&] { return spool->get(id); });
    const bool prompt = read.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
    {
        std::lock_guard lock(io.mu);
        io.armed = false;
    }
    io.cv.notify_all();
    writer.join();
    EXPECT_TRUE(prompt) << "get() waited for the fdatasync";
    auto before = read.get();
    ASSERT_TRUE(before);
    EXPECT_EQ(before->rcpts[0].status, RcptStatus::pending);
    EXPECT_EQ(spool->get(id)->rcpts[0].status, RcptStatus::deferred);
}

TEST(SpoolConcurrency, ManyThreadsShareDirectoryFsyncs) {
    TempDir tmp;
    constexpr int kThreads = 16, kEach = 40;
    std::vector<std::vector<std::string>> ids(kThreads);
    {
        auto spool = testing::open_spool(tmp.path());
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < kEach; ++i) {
                    auto r =
                        spool->commit(testing::sample_envelope(1), "body " + std::to_string(i));
                    if (!r.ec) ids[t].push_back(r.id);
                }
            });
        }
        for (auto& th : threads) th.join();
        std::printf("%d commits, %llu directory fsyncs\n", kThreads * kEach,
                    static_cast<unsigned long long>(spool->dir_fsyncs()));
        EXPECT_LT(spool->dir_fsyncs(), static_cast<std::uint64_t>(kThreads * kEach));
        EXPECT_GE(spool->dir_fsyncs(), 1u);
    }
    std::set<std::string> all;
    for (auto& v : ids) {
        EXPECT_EQ(v.size(), static_cast<std::size_t>(kEach));
        all.insert(v.begin(), v.end());
    }
    EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kEach));
    auto spool = testing::open_spool(tmp.path());
    std::set<std::string> found;
    for (const auto& m : spool->list()) found.insert(m.id);
    EXPECT_EQ(found, all);
}

// One committer at a time: every commit must have waited for its own directory fsync.
TEST(SpoolConcurrency, SequentialCommitsEachFsyncTheDirectory) {
    TempDir tmp;
    auto spool = testing::open_spool(tmp.path());
    auto base = spool->dir_fsyncs();
    for (int i = 0; i < 5; ++i) ASSERT_FALSE(spool->commit(testing::sample_envelope(1), "x").ec);
    EXPECT_EQ(spool->dir_fsyncs() - base, 5u);
    ASSERT_FALSE(spool->remove(spool->list().front().id));
    EXPECT_EQ(spool->dir_fsyncs() - base, 6u);
}

// Removals whose fsync may wait: none until sync_removals(), one then, none when a commit's
// fsync (which starts after the removal) already covered them.
TEST(SpoolConcurrency, LaterRemovalsShareTheNextFsync) {
    TempDir tmp;
    auto spool = testing::open_spool(tmp.path());
    for (int i = 0; i < 4; ++i) ASSERT_FALSE(spool->commit(testing::sample_envelope(1), "x").ec);
    auto ids = spool->list();
    auto base = spool->dir_fsyncs();
    ASSERT_FALSE(spool->remove(ids[0].id, Spool::Sync::later));
    ASSERT_FALSE(spool->remove(ids[1].id, Spool::Sync::later));
    EXPECT_EQ(spool->dir_fsyncs() - base, 0u);
    ASSERT_FALSE(spool->sync_removals());
    EXPECT_EQ(spool->dir_fsyncs() - base, 1u);
    ASSERT_FALSE(spool->sync_removals());
    EXPECT_EQ(spool->dir_fsyncs() - base, 1u) << "nothing left to sync";
    ASSERT_FALSE(spool->remove(ids[2].id, Spool::Sync::later));
    ASSERT_FALSE(spool->commit(testing::sample_envelope(1), "y").ec);
    EXPECT_EQ(spool->dir_fsyncs() - base, 2u);
    ASSERT_FALSE(spool->sync_removals());
    EXPECT_EQ(spool->dir_fsyncs() - base, 2u) << "the commit's fsync covered the removal";
    ASSERT_FALSE(spool->remove(ids[3].id, Spool::Sync::now));
    EXPECT_EQ(spool->dir_fsyncs() - base, 3u);
}

TEST(DirSyncer, AFailedFsyncLeavesTheChangePending) {
    DirSyncer bad(-1);
    bad.note_change();
    EXPECT_TRUE(bad.pending());
    EXPECT_TRUE(bad.sync_if_pending());
    EXPECT_TRUE(bad.pending()) << "still to be made durable";
}

TEST(DirSyncer, ErrorReachesEveryMemberOfTheBatch) {
    DirSyncer bad(-1);  // fsync(-1) fails with EBADF
    std::vector<std::thread> threads;
    std::atomic<int> errors{0};
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&] {
            if (bad.sync() == std::error_code(EBADF, std::generic_category())) ++errors;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(errors, 8);
    EXPECT_GE(bad.fsync_count(), 1u);
}

TEST(AsyncSpool, CoroutinesCommitAndUpdate) {
    TempDir tmp;
    auto spool = testing::open_spool(tmp.path());
    AsyncSpool async(*spool, 8);
    asio::io_context io;
    constexpr int kSessions = 50;
    int ok = 0;
    auto io_thread = std::this_thread::get_id();
    bool wrong_thread = false;
    for (int s = 0; s < kSessions; ++s) {
        asio::co_spawn(
            io,
            [&, s]() -> asio::awaitable<void> {
                // Arguments built before co_await: g++ 12 mishandles some temporaries there.
                QueuedEnvelope env = testing::sample_envelope(2);
                std::string body = "session " + std::to_string(s);
                auto r = co_await async.async_commit(std::move(env), std::move(body),
                                                     asio::use_awaitable);
                wrong_thread |= std::this_thread::get_id() != io_thread;
                if (r.ec) co_return;
                std::vector<StatusUpdate> ups{{1, testing::delivered(1)}};
                auto ec = co_await async.async_update(r.id, std::move(ups), asio::use_awaitable);
                wrong_thread |= std::this_thread::get_id() != io_thread;
                if (!ec) ++ok;
            },
            asio::detached);
    }
    io.run();
    EXPECT_EQ(ok, kSessions);
    EXPECT_FALSE(wrong_thread);
    auto all = spool->list();
    ASSERT_EQ(all.size(), static_cast<std::size_t>(kSessions));
    for (const auto& m : all) EXPECT_EQ(m.rcpts[1], testing::delivered(1));
}

}  // namespace
}  // namespace dr::relay
