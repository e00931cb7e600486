// InFlow (relay/queue/in_flow.hpp): tokens capped at the limit, taken one at a time, and
// admit() waiting for one up to the delay. An io_context, no sockets.
#include "relay/queue/in_flow.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace dr::relay {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

// Runs admit() to completion; how long it took and what it returned.
std::pair<bool, Steady::duration> admit(InFlow& flow, std::chrono::milliseconds delay) {
    boost::asio::io_context io;
    std::optional<bool> got;
    const auto t0 = Steady::now();
    boost::asio::co_spawn(io, flow.admit(delay), [&](std::exception_ptr e, bool ok) {
        if (e) std::rethrow_exception(e);
        got = ok;
    });
    io.run();
    EXPECT_TRUE(got.has_value());
    return {got.value_or(false), Steady::now() - t0};
}

TEST(InFlow, StartsFullAndNeverHoldsMoreThanTheLimit) {
    InFlow flow(3);
    EXPECT_EQ(flow.tokens(), 3);
    flow.put();
    EXPECT_EQ(flow.tokens(), 3);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(flow.take());
    EXPECT_FALSE(flow.take());
    EXPECT_EQ(flow.tokens(), 0);
    flow.put();
    EXPECT_EQ(flow.tokens(), 1);
    EXPECT_TRUE(flow.take());
    EXPECT_FALSE(flow.take());
}

TEST(InFlow, AdmitTakesATokenAtOnceWhileThereIsOne) {
    InFlow flow(1);
    EXPECT_TRUE(admit(flow, 1000ms).first);
    EXPECT_EQ(flow.tokens(), 0);
}

TEST(InFlow, WithoutTokensAdmitWaitsTheDelayThenLetsTheMessageIn) {
    InFlow flow(1);
    ASSERT_TRUE(flow.take());
    auto [ok, took] = admit(flow, 200ms);
    EXPECT_FALSE(ok);
    EXPECT_GE(took, 200ms);
    EXPECT_EQ(flow.tokens(), 0);
}

TEST(InFlow, ATokenPutFromAnotherThreadEndsTheWait) {
    InFlow flow(1);
    ASSERT_TRUE(flow.take());
    std::thread queue([&] {
        std::this_thread::sleep_for(100ms);
        flow.put();
    });
    auto [ok, took] = admit(flow, 10000ms);
    queue.join();
    EXPECT_TRUE(ok);
    EXPECT_GE(took, 100ms);
    EXPECT_LT(took, 10000ms);  // it did not wait out the delay
    EXPECT_EQ(flow.tokens(), 0);
}

// Three messages wait on one loop; each put hands one token to the oldest waiter at once (no
// poll), and a waiter that timed out is gone: the token after it goes back to the pool.
TEST(InFlow, EachPutWakesTheOldestWaiterAndATimedOutOneLeaves) {
    InFlow flow(5);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(flow.take());
    boost::asio::io_context io;
    std::vector<std::pair<int, bool>> done;  // waiter, admitted with a token
    auto wait = [&](int n, std::chrono::milliseconds delay) {
        boost::asio::co_spawn(io, flow.admit(delay), [&done, n](std::exception_ptr e, bool ok) {
            if (e) std::rethrow_exception(e);
            done.emplace_back(n, ok);
        });
    };
    wait(1, 10000ms);
    wait(2, 10000ms);
    wait(3, 50ms);
    io.run_for(10ms);
    EXPECT_EQ(flow.waiting(), 3u);
    flow.put();
    io.run_for(10ms);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0], std::make_pair(1, true));
    io.run_for(200ms);  // waiter 3 times out
    ASSERT_EQ(done.size(), 2u);
    EXPECT_EQ(done[1], std::make_pair(3, false));
    EXPECT_EQ(flow.waiting(), 1u);
    flow.put();
    io.run_for(10ms);
    ASSERT_EQ(done.size(), 3u);
    EXPECT_EQ(done[2], std::make_pair(2, true));
    EXPECT_EQ(flow.waiting(), 0u);
    flow.put();
    EXPECT_EQ(flow.tokens(), 1);
}

TEST(InFlow, ZeroDelayIsOffAndTakesNothing) {
    InFlow flow(1);
    ASSERT_TRUE(flow.take());
    EXPECT_FALSE(admit(flow, 0ms).first);
    flow.put();
    EXPECT_FALSE(admit(flow, 0ms).first);
    EXPECT_EQ(flow.tokens(), 1);
}

}  // namespace
}  // namespace dr::relay
