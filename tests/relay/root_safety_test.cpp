// Root safety (SPEC §3): whoever owns the spool cannot steer a root `dane-relay` through
// links to files elsewhere, a spool of another user is refused, log files root creates go to
// the run-as user, and an account with uid 0 is refused unless allowed. The ownership cases
// need root (CI is root) and are skipped otherwise.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "relay/cli/privileges.hpp"
#include "relay/log/log_file.hpp"
#include "spool_test_util.hpp"

namespace dr::relay {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr uid_t kNobody = 65534;

std::unique_ptr<Spool> try_open(const std::string& dir, std::error_code& ec) {
    return Spool::open({dir, 0}, ec);
}

uid_t owner_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_uid;
}

TEST(RootSafety, LinkedIncomingIsRefusedAndItsTargetSurvives) {
    TempDir tmp, elsewhere;
    auto spool = fs::path(tmp.path()) / "spool";
    fs::create_directory(spool);
    auto victim = fs::path(elsewhere.path()) / "precious";
    testing::write_file(victim, "keep me");
    fs::create_directory_symlink(elsewhere.path(), spool / "incoming");
    std::error_code ec;
    EXPECT_FALSE(try_open(spool, ec));
    EXPECT_TRUE(ec);
    EXPECT_TRUE(fs::exists(victim)) << "recovery emptied the link's target";
}

TEST(RootSafety, LinkedLockIsRefusedAndNothingIsCreated) {
    TempDir tmp, elsewhere;
    auto target = fs::path(elsewhere.path()) / "created-by-root";
    fs::create_symlink(target, fs::path(tmp.path()) / "lock");
    std::error_code ec;
    EXPECT_FALSE(try_open(tmp.path(), ec));
    EXPECT_EQ(ec, std::error_code(ELOOP, std::generic_category())) << ec.message();
    EXPECT_FALSE(fs::exists(target));
}

TEST(RootSafety, LinkInQueueIsQuarantinedNotRead) {
    TempDir tmp, elsewhere;
    std::string id;
    {
        auto s = testing::open_spool(tmp.path());
        id = s->commit(testing::sample_envelope(1), "Subject: x\r\n\r\nbody\r\n").id;
    }
    // Replace the real queue file by a link to a copy of it elsewhere: still not ours.
    auto queue = fs::path(tmp.path()) / "queue";
    auto copy = fs::path(elsewhere.path()) / "copy";
    fs::copy_file(queue / id, copy);
    fs::remove(queue / id);
    fs::create_symlink(copy, queue / id);
    auto s = testing::open_spool(tmp.path());
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->get(id));
    EXPECT_EQ(s->recovery().corrupt, std::vector<std::string>{id});
    EXPECT_TRUE(fs::is_symlink(fs::path(tmp.path()) / "corrupt" / id));
    EXPECT_TRUE(fs::exists(copy));
}

TEST(RootSafety, SpoolOfAnotherUserIsRefused) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the spool away";
    TempDir tmp;
    ASSERT_EQ(::chown(tmp.path().c_str(), kNobody, kNobody), 0);
    std::error_code ec;
    EXPECT_FALSE(try_open(tmp.path(), ec));
    EXPECT_EQ(ec, SpoolErrc::foreign_owner) << ec.message();
    EXPECT_FALSE(fs::exists(fs::path(tmp.path()) / "lock")) << "root left a file behind";
}

TEST(RootSafety, LogFileThatIsALinkIsRefused) {
    TempDir tmp;
    auto target = fs::path(tmp.path()) / "target";
    fs::create_symlink(target, fs::path(tmp.path()) / "maillog");
    std::string err;
    EXPECT_EQ(open_log_file(tmp.path() + "/maillog", std::nullopt, "log file", err), -1);
    EXPECT_NE(err.find("symbolic link"), std::string::npos) << err;
    EXPECT_FALSE(fs::exists(target));
}

TEST(RootSafety, CreatedLogFileGoesToTheUserAnExistingOneKeepsItsOwner) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to hand files over";
    TempDir tmp;
    auto fresh = fs::path(tmp.path()) / "fresh.log";
    auto existing = fs::path(tmp.path()) / "existing.log";
    testing::write_file(existing, "");
    std::string err;
    for (const auto& p : {fresh, existing}) {
        int fd = open_log_file(p, FileOwner{kNobody, kNobody}, "log file", err);
        ASSERT_GE(fd, 0) << err;
        ::close(fd);
    }
    EXPECT_EQ(owner_of(fresh), kNobody);
    EXPECT_EQ(owner_of(existing), 0u);
}

TEST(RootSafety, UidZeroAccountIsRefusedUnlessAllowed) {
    if (::geteuid() != 0) GTEST_SKIP() << "run_as only looks accounts up as root";
    conf::ServerConfig server;
    server.user = "root";
    RunAs refused = run_as(server);
    EXPECT_FALSE(refused.account);
    EXPECT_NE(refused.error.find("uid 0"), std::string::npos) << refused.error;
    server.allow_root = true;
    RunAs allowed = run_as(server);
    ASSERT_TRUE(allowed.account) << allowed.error;
    EXPECT_EQ(allowed.account->uid, 0u);
    server.user = "no-such-user-here";
    EXPECT_NE(run_as(server).error.find("does not exist"), std::string::npos);
    server.user = "";
    EXPECT_FALSE(run_as(server).account);
    EXPECT_TRUE(run_as(server).error.empty());
}

}  // namespace
}  // namespace dr::relay
