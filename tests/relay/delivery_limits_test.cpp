// SPEC §12 limits of one delivery attempt (relay/queue/delivery.hpp): at most
// mx_address_limit addresses are tried (Postfix's smtp_mx_address_limit), hosts ruled out
// give none, and the attempt's deadline is counted from its start.
#include <gtest/gtest.h>

#include "relay/queue/delivery.hpp"

namespace dr::relay {
namespace {

using namespace std::chrono_literals;

dane::IpAddress v4(std::uint8_t last) {
    dane::IpAddress ip;
    ip.bytes = {192, 0, 2, last};
    return ip;
}

dane::Destination three_hosts() {
    dane::Destination d;
    for (int h = 0; h < 3; ++h) {
        dane::HostResult r;
        r.plan.host = "mx" + std::to_string(h) + ".example";
        for (std::uint8_t a = 0; a < 3; ++a) r.plan.addresses.push_back(v4(10 * h + a));
        d.hosts.push_back(std::move(r));
    }
    return d;
}

TEST(Candidates, AtMostTheAddressLimitInOrder) {
    auto d = three_hosts();
    auto c = candidates(d, 5);
    ASSERT_EQ(c.size(), 5u);
    EXPECT_EQ(c[0].plan->host, "mx0.example");
    EXPECT_EQ(c[3].plan->host, "mx1.example");
    EXPECT_EQ(c[4].address, v4(11));
}

TEST(Candidates, ZeroMeansNoLimit) {
    EXPECT_EQ(candidates(three_hosts(), 0).size(), 9u);
}

TEST(Candidates, HostsRuledOutGiveNoAddress) {
    auto d = three_hosts();
    d.hosts[0].plan.failure = dane::Failure{};
    auto c = candidates(d, 5);
    ASSERT_EQ(c.size(), 5u);
    EXPECT_EQ(c[0].plan->host, "mx1.example");
}

TEST(AttemptDeadline, CountedFromTheStart) {
    ConnectOptions o;
    o.attempt_timeout = 90s;
    const auto now = std::chrono::steady_clock::now();
    auto with = with_deadline(o, now);
    ASSERT_TRUE(with.deadline.has_value());
    EXPECT_EQ(*with.deadline - now, 90s);
    o.attempt_timeout = 0s;
    EXPECT_FALSE(with_deadline(o, now).deadline.has_value());
}

TEST(AttemptDeadline, PostfixDefaults) {
    ConnectOptions o;
    EXPECT_EQ(o.mx_address_limit, 5u);
    EXPECT_EQ(o.mx_session_limit, 2u);
    EXPECT_EQ(o.reply_limits.max_line_length, 2048u);
}

}  // namespace
}  // namespace dr::relay
