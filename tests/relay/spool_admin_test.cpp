// `dane-relay queue` on a stopped spool: list, hold/release, delete, flush, usage errors, and
// the refusal when a daemon holds the spool.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <sstream>

#include "relay/cli/queue_command.hpp"
#include "spool_test_util.hpp"

namespace dr::relay {
namespace {

struct Run {
    int status;
    std::string out, err;
};

Run queue(const std::string& dir, std::vector<std::string> args) {
    std::ostringstream out, err;
    int status = run_queue_command(dir, args, out, err);
    return {status, out.str(), err.str()};
}

TEST(SpoolAdmin, ListHoldReleaseDeleteFlush) {
    testing::TempDir tmp;
    std::string a, b;
    {
        auto spool = testing::open_spool(tmp.path());
        a = spool->commit(testing::sample_envelope(1), "a").id;
        b = spool->commit(testing::sample_envelope(2), "b").id;
        ASSERT_FALSE(spool->update(b, {{1, testing::deferred(3, "Connection timed out")}}));
    }
    auto r = queue(tmp.path(), {});
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.out.find(a + "         1 "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("(Connection timed out)\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("-- 1 Kbytes in 2 Requests."), std::string::npos) << r.out;

    r = queue(tmp.path(), {"hold", a, "0000000000NONE"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.out, a + ": held\n");
    EXPECT_NE(r.err.find("0000000000NONE: no such queue ID"), std::string::npos);
    EXPECT_NE(queue(tmp.path(), {"list"}).out.find(a + "!"), std::string::npos);
    {
        std::istringstream lines(queue(tmp.path(), {"list", "--json"}).out);
        int held = 0;
        for (std::string line; std::getline(lines, line);) {
            auto o = boost::json::parse(line).as_object();
            if (o.at("queue_id").as_string() == a) held += o.at("queue_name").as_string() == "hold";
        }
        EXPECT_EQ(held, 1);
    }
    EXPECT_EQ(queue(tmp.path(), {"release", a}).out, a + ": released\n");

    EXPECT_EQ(queue(tmp.path(), {"flush"}).status, 0);
    EXPECT_EQ(queue(tmp.path(), {"delete", a}).out, a + ": removed\n");

    auto spool = testing::open_spool(tmp.path());
    auto all = spool->list();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].id, b);
    EXPECT_FALSE(all[0].held);
    EXPECT_EQ(all[0].rcpts[1].next_attempt_us, 0);  // flushed: due now
    EXPECT_EQ(all[0].rcpts[1].attempts, 3u);        // history kept
    EXPECT_EQ(all[0].rcpts[1].reason, "Connection timed out");
}

TEST(SpoolAdmin, UsageAndLockedSpool) {
    testing::TempDir tmp;
    EXPECT_EQ(queue(tmp.path(), {"delete"}).status, 2);
    EXPECT_EQ(queue(tmp.path(), {"list", "-x"}).status, 2);
    EXPECT_EQ(queue(tmp.path(), {"frobnicate"}).status, 2);
    auto daemon = testing::open_spool(tmp.path());
    auto r = queue(tmp.path(), {"list"});
    EXPECT_EQ(r.status, 75);
    EXPECT_NE(r.err.find("locked"), std::string::npos);
}

}  // namespace
}  // namespace dr::relay
