// The MTA-STS policy cache on disk (dane/sts_cache.hpp): an entry reads back as written,
// survives a new StsCache (a restart), replaces the old one atomically, and a damaged
// file is an error that counts as absent, never a policy.
#include "dane/sts_cache.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace dr::dane {
namespace {

const char* kPolicy = "version: STSv1\r\nmode: enforce\r\nmx: *.a.test\r\nmax_age: 86400\r\n";

struct StsCacheTest : ::testing::Test {
    std::string dir;
    void SetUp() override {
        char tmpl[] = "/tmp/sts-cache.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir = tmpl;
    }
    void TearDown() override { std::filesystem::remove_all(dir); }
    StsCached entry(std::string id, std::int64_t at, const char* text = kPolicy) {
        auto p = parse_sts_policy(text);
        return StsCached{std::move(id), at, *p.value, text};
    }
    void write(const std::string& name, const std::string& text) {
        std::ofstream(dir + "/sts/" + name, std::ios::binary) << text;
    }
};

TEST_F(StsCacheTest, AnEntryReadsBackAfterARestart) {
    ASSERT_EQ(StsCache(dir + "/sts").store("A.Test.", entry("id1", 1700000000)), "");
    auto l = StsCache(dir + "/sts").load("a.test");
    ASSERT_TRUE(l.entry) << l.error;
    EXPECT_EQ(l.entry->id, "id1");
    EXPECT_EQ(l.entry->fetched, 1700000000);
    EXPECT_EQ(l.entry->policy.mx, std::vector<std::string>{"*.a.test"});
    EXPECT_EQ(l.entry->text, kPolicy);
    struct stat st {};
    ASSERT_EQ(::stat((dir + "/sts").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(StsCacheTest, AStoreReplacesAndLeavesNoTemporaryFile) {
    StsCache c(dir + "/sts");
    ASSERT_EQ(c.store("a.test", entry("id1", 1)), "");
    ASSERT_EQ(c.store("a.test", entry("id2", 2)), "");
    EXPECT_EQ(c.load("a.test").entry->id, "id2");
    auto n = std::distance(std::filesystem::directory_iterator(dir + "/sts"), {});
    EXPECT_EQ(n, 1);
}

TEST_F(StsCacheTest, NothingCachedIsNoError) {
    auto l = StsCache(dir + "/sts").load("b.test");
    EXPECT_FALSE(l.entry);
    EXPECT_EQ(l.error, "");
}

TEST_F(StsCacheTest, DamagedFilesAreErrorsNotPolicies) {
    StsCache c(dir + "/sts");
    ASSERT_EQ(c.store("a.test", entry("id1", 1)), "");
    const std::string good = StsCache::format(entry("id1", 1));
    for (const std::string& text : {
             std::string(), std::string("garbage"),
             good.substr(0, good.size() - 20),  // torn in the policy
             good.substr(0, 25),                // torn in the header
             std::string("dane-relay sts v1\nid: x!\nfetched: 1\n\n") + kPolicy,
             std::string("dane-relay sts v1\nid: x\nfetched: -5\n\n") + kPolicy,
             std::string("dane-relay sts v1\nid: x\nfetched: 1\n") + kPolicy,  // no blank line
             good + std::string(70000, '#'),                                   // oversize
         }) {
        write("a.test", text);
        auto l = c.load("a.test");
        EXPECT_FALSE(l.entry) << text.substr(0, 80);
        EXPECT_NE(l.error, "") << text.substr(0, 80);
    }
}

TEST_F(StsCacheTest, DomainNamesCannotEscapeTheDirectory) {
    StsCache c(dir + "/sts");
    for (const char* bad : {"../x.test", "a/b.test", "", "..", "a..test"}) {
        EXPECT_NE(c.store(bad, entry("id1", 1)), "") << bad;
        EXPECT_NE(c.load(bad).error, "") << bad;
    }
    EXPECT_FALSE(std::filesystem::exists(dir + "/x.test"));
}

TEST_F(StsCacheTest, AMissingParentIsAnError) {
    auto e = StsCache(dir + "/no/such/sts").store("a.test", entry("id1", 1));
    EXPECT_NE(e.find("No such file or directory"), std::string::npos) << e;
}

}  // namespace
}  // namespace dr::dane
