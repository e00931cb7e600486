// Recovery from simulated crashes: leftovers in incoming/, a journal cut at every byte offset,
// garbage after the journal, and files that cannot be a committed message at all.
#include <gtest/gtest.h>

#include <filesystem>

#include "spool_test_util.hpp"

namespace dr::relay {
namespace {

namespace fs = std::filesystem;
using testing::open_spool;
using testing::TempDir;

// tmpfs keeps the byte-by-byte loops fast; the code path is the same as on disk.
std::string fast_base() {
    return fs::exists("/dev/shm") ? "/dev/shm" : fs::temp_directory_path();
}

TEST(SpoolRecovery, IncomingLeftoversAreRemoved) {
    TempDir tmp;
    { open_spool(tmp.path()); }
    auto incoming = fs::path(tmp.path()) / "incoming";
    testing::write_file(incoming / "0HALFWRITTEN00", "DRSPOOL1\nB 0000000000000100 00000000\npar");
    testing::write_file(incoming / "junk", "");
    auto spool = open_spool(tmp.path());
    EXPECT_EQ(spool->recovery().incoming_removed, 2u);
    EXPECT_EQ(spool->recovery().messages, 0u);
    EXPECT_EQ(testing::count_files(incoming), 0u);
    EXPECT_TRUE(spool->list().empty());
}

// Offset of the body record's length field: after the magic and "B ".
constexpr std::size_t kBodyLengthAt = 9 + 2;

// A message and the states it has after each of its journal records.
struct Journaled {
    std::string id;
    std::string bytes;
    std::vector<std::uint64_t> ends;  // ends[k]: file size after k journal records
    std::vector<MessageInfo> states;  // states[k]: what recovery must yield from ends[k]
};

Journaled make_journaled(const std::string& dir) {
    Journaled j;
    auto spool = open_spool(dir);
    j.id = spool->commit(testing::sample_envelope(2), "Subject: x\r\n\r\nbody\r\n").id;
    auto snap = [&] {
        auto info = *spool->get(j.id);
        j.ends.push_back(info.file_size);
        j.states.push_back(info);
    };
    snap();
    EXPECT_FALSE(spool->update(j.id, {{0, testing::deferred(1, "Connection refused")}}));
    snap();
    EXPECT_FALSE(spool->hold(j.id));
    snap();
    EXPECT_FALSE(spool->update(j.id, {{0, testing::delivered(2)}, {1, testing::delivered(1)}}));
    snap();
    j.bytes = testing::read_file(fs::path(dir) / "queue" / j.id);
    EXPECT_EQ(j.bytes.size(), j.ends.back());
    return j;
}

TEST(SpoolRecovery, JournalCutAtEveryOffset) {
    TempDir src(fast_base());
    auto j = make_journaled(src.path());
    for (std::uint64_t len = j.ends.front(); len <= j.bytes.size(); ++len) {
        SCOPED_TRACE("length " + std::to_string(len));
        TempDir tmp(fast_base());
        fs::create_directories(fs::path(tmp.path()) / "queue");
        auto path = fs::path(tmp.path()) / "queue" / j.id;
        testing::write_file(path, j.bytes.substr(0, len));
        std::size_t k = 0;
        while (k + 1 < j.ends.size() && j.ends[k + 1] <= len) ++k;
        auto spool = open_spool(tmp.path());
        ASSERT_TRUE(spool);
        EXPECT_EQ(spool->recovery().torn_journals, len == j.ends[k] ? 0u : 1u);
        auto info = spool->get(j.id);
        ASSERT_TRUE(info);
        EXPECT_EQ(info->rcpts, j.states[k].rcpts);
        EXPECT_EQ(info->held, j.states[k].held);
        EXPECT_EQ(fs::file_size(path), j.ends[k]);  // torn tail cut off
        // The journal keeps working after the repair.
        ASSERT_FALSE(spool->update(j.id, {{1, testing::deferred(9, "after repair")}}));
        spool.reset();
        auto again = open_spool(tmp.path());
        EXPECT_EQ(again->recovery().torn_journals, 0u);
        EXPECT_EQ(again->get(j.id)->rcpts[1], testing::deferred(9, "after repair"));
    }
}

TEST(SpoolRecovery, ZeroFilledAndGarbageTails) {
    TempDir src(fast_base());
    auto j = make_journaled(src.path());
    for (std::string tail : {std::string(4096, '\0'), std::string("S 00000000000000"),
                             std::string("S 0000000000000003 00000000\nabc\n")}) {
        TempDir tmp(fast_base());
        fs::create_directories(fs::path(tmp.path()) / "queue");
        testing::write_file(fs::path(tmp.path()) / "queue" / j.id, j.bytes + tail);
        auto spool = open_spool(tmp.path());
        EXPECT_EQ(spool->recovery().torn_journals, 1u);
        auto info = spool->get(j.id);
        ASSERT_TRUE(info);
        EXPECT_EQ(info->rcpts, j.states.back().rcpts);
    }
}

// A file in queue/ was fsync'd before its rename, so a cut inside the body or envelope is
// damage: it goes to corrupt/ for the operator and does not stop the start.
TEST(SpoolRecovery, DamagedHeadIsQuarantined) {
    TempDir src(fast_base());
    auto j = make_journaled(src.path());
    for (std::uint64_t len :
         {std::uint64_t{0}, std::uint64_t{5}, std::uint64_t{40}, j.ends.front() - 1}) {
        TempDir tmp(fast_base());
        fs::create_directories(fs::path(tmp.path()) / "queue");
        testing::write_file(fs::path(tmp.path()) / "queue" / j.id, j.bytes.substr(0, len));
        testing::write_file(fs::path(tmp.path()) / "queue" / "README.txt", "not a queue file");
        auto spool = open_spool(tmp.path());
        ASSERT_TRUE(spool);
        EXPECT_EQ(spool->recovery().corrupt, std::vector<std::string>{j.id});
        EXPECT_TRUE(spool->list().empty());
        EXPECT_TRUE(fs::exists(fs::path(tmp.path()) / "corrupt" / j.id));
        EXPECT_TRUE(fs::exists(fs::path(tmp.path()) / "queue" / "README.txt"));
    }
}

// Lengths that point far beyond the file must neither allocate nor crash.
TEST(SpoolRecovery, AbsurdLengthsAreQuarantined) {
    TempDir src(fast_base());
    auto j = make_journaled(src.path());
    auto e_at = j.bytes.find("\nE ") + 1;
    for (std::size_t at : {kBodyLengthAt, e_at + 2}) {
        std::string bytes = j.bytes;
        bytes.replace(at, 16, "0000ffffffffffff");
        TempDir tmp(fast_base());
        fs::create_directories(fs::path(tmp.path()) / "queue");
        testing::write_file(fs::path(tmp.path()) / "queue" / j.id, bytes);
        auto spool = open_spool(tmp.path());
        ASSERT_TRUE(spool);
        EXPECT_EQ(spool->recovery().corrupt, std::vector<std::string>{j.id});
    }
}

}  // namespace
}  // namespace dr::relay
