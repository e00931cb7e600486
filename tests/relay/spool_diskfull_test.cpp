// Disk full on a small tmpfs mounted by the test (needs root): a commit fails with ENOSPC and
// leaves nothing behind, journal appends fail cleanly, nothing is corrupted, and commits work
// again once space is freed. Also the free-space reserve that keeps room for journals.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "spool_test_util.hpp"

namespace dr::relay {
namespace {

namespace fs = std::filesystem;

class SpoolDiskFull : public ::testing::Test {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
        ASSERT_EQ(::mount("tmpfs", tmp_.path().c_str(), "tmpfs", 0, "size=512k,mode=0700"), 0)
            << std::strerror(errno);
        mounted_ = true;
    }
    void TearDown() override {
        if (mounted_) {
            EXPECT_EQ(::umount2(tmp_.path().c_str(), MNT_DETACH), 0);
        }
    }
    std::string dir() const { return tmp_.path() + "/spool"; }

    testing::TempDir tmp_;
    bool mounted_ = false;
};

TEST_F(SpoolDiskFull, FailsCleanlyAndRecovers) {
    const std::string body(20 * 1024, 'x');
    std::vector<std::string> ids;
    std::vector<MessageInfo> before;
    {
        auto spool = testing::open_spool(dir(), 0);
        ASSERT_TRUE(spool);
        CommitResult r;
        while (!(r = spool->commit(testing::sample_envelope(2), body)).ec) ids.push_back(r.id);
        EXPECT_EQ(r.ec, std::errc::no_space_on_device) << r.ec.message();
        EXPECT_GE(ids.size(), 5u);
        EXPECT_EQ(testing::count_files(dir() + "/incoming"), 0u);  // nothing half-written
        EXPECT_EQ(spool->list().size(), ids.size());

        // Journal appends on the full disk: each one either lands or fails without a trace.
        int failed = 0;
        for (int round = 1; round <= 40; ++round) {
            for (const auto& id : ids) {
                auto ec = spool->update(id, {{0, testing::deferred(round, std::string(300, 'r'))}});
                if (ec) {
                    EXPECT_EQ(ec, std::errc::no_space_on_device);
                    ++failed;
                }
            }
        }
        EXPECT_GT(failed, 0);
        before = spool->list();
    }
    auto spool = testing::open_spool(dir(), 0);
    ASSERT_TRUE(spool);
    EXPECT_TRUE(spool->recovery().corrupt.empty());
    EXPECT_EQ(spool->recovery().torn_journals, 0u);
    auto after = spool->list();
    ASSERT_EQ(after.size(), before.size());
    for (std::size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].rcpts, before[i].rcpts);

    // Space comes back: accepting works again.
    ASSERT_FALSE(spool->remove(ids[0]));
    ASSERT_FALSE(spool->remove(ids[1]));
    auto r = spool->commit(testing::sample_envelope(1), body);
    EXPECT_FALSE(r.ec) << r.ec.message();
    std::string back;
    EXPECT_FALSE(spool->read_body(r.id, back));
    EXPECT_EQ(back, body);
}

// The body is streamed to disk while DATA arrives, so ENOSPC can strike in the middle of it.
TEST_F(SpoolDiskFull, StreamedBodyHitsTheLimit) {
    auto spool = testing::open_spool(dir(), 0);
    ASSERT_TRUE(spool);
    std::error_code ec;
    auto w = spool->begin(ec);
    ASSERT_TRUE(w) << ec.message();
    const std::string chunk(8192, 'z');
    std::error_code write_ec;
    for (int i = 0; i < 128 && !write_ec; ++i) write_ec = w->write(chunk);  // 1 MiB
    EXPECT_EQ(write_ec, std::errc::no_space_on_device);
    EXPECT_EQ(w->write(chunk), write_ec);  // sticky
    auto r = spool->commit(std::move(w), testing::sample_envelope(1));
    EXPECT_EQ(r.ec, std::errc::no_space_on_device);
    EXPECT_EQ(testing::count_files(dir() + "/incoming"), 0u);
    EXPECT_TRUE(spool->list().empty());
    // All the space is back: a normal message fits.
    EXPECT_FALSE(spool->commit(testing::sample_envelope(1), chunk).ec);
}

TEST_F(SpoolDiskFull, ReserveRefusesNewMailBeforeTheDiskIsFull) {
    auto spool = testing::open_spool(dir(), 256 * 1024);
    ASSERT_TRUE(spool);
    const std::string body(64 * 1024, 'y');
    CommitResult r;
    int ok = 0;
    while (!(r = spool->commit(testing::sample_envelope(1), body)).ec) ++ok;
    EXPECT_EQ(r.ec, make_error_code(SpoolErrc::low_space));
    EXPECT_GE(ok, 2);
    EXPECT_EQ(testing::count_files(dir() + "/incoming"), 0u);
    // The reserve is still there for status updates of the queued mail.
    auto first = spool->list().front().id;
    EXPECT_FALSE(spool->update(first, {{0, testing::delivered(1)}}));
}

}  // namespace
}  // namespace dr::relay
