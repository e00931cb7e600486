// The timing rule of delay notices (relay/queue/notices.hpp, delay_notice_due): Postfix's
// delay_warning_time. A message still queued at least that long after arrival, with a
// recipient left to deliver, and no notice sent yet, owes one; 0 turns the feature off.
#include <gtest/gtest.h>

#include "relay/queue/notices.hpp"

namespace dr::relay {
namespace {

constexpr std::int64_t kHour = 3600LL * 1000 * 1000;
constexpr std::int64_t kArrival = 1'800'000'000LL * 1000 * 1000;

MessageInfo queued(std::vector<RcptStatus> states) {
    MessageInfo info;
    info.id = "ABCDEFGHIJ0123";
    info.envelope.sender = "sender@example.org";
    info.envelope.arrival_us = kArrival;
    for (auto st : states) {
        info.envelope.recipients.push_back({.address = "r@example.net", .notify = "", .orcpt = ""});
        RcptState r;
        r.status = st;
        info.rcpts.push_back(r);
    }
    return info;
}

TEST(DelayNoticeDue, OnlyOnceTheTimeHasPassed) {
    auto info = queued({RcptStatus::deferred});
    EXPECT_FALSE(delay_notice_due(info, kArrival + 4 * kHour - 1, 4 * kHour));
    EXPECT_TRUE(delay_notice_due(info, kArrival + 4 * kHour, 4 * kHour));
    EXPECT_TRUE(delay_notice_due(info, kArrival + 40 * kHour, 4 * kHour));
}

TEST(DelayNoticeDue, ZeroMeansOff) {
    auto info = queued({RcptStatus::deferred});
    EXPECT_FALSE(delay_notice_due(info, kArrival + 100 * kHour, 0));
}

TEST(DelayNoticeDue, NeverTwice) {
    auto info = queued({RcptStatus::deferred});
    info.delay_notice = "ZYXWVUTSRQ0123";
    EXPECT_FALSE(delay_notice_due(info, kArrival + 5 * kHour, 4 * kHour));
    info.delay_notice = "none";  // the sender gets none (null sender, NOTIFY)
    EXPECT_FALSE(delay_notice_due(info, kArrival + 5 * kHour, 4 * kHour));
}

TEST(DelayNoticeDue, OnlyWhileARecipientIsLeft) {
    const auto late = kArrival + 5 * kHour;
    EXPECT_TRUE(
        delay_notice_due(queued({RcptStatus::delivered, RcptStatus::pending}), late, 4 * kHour));
    EXPECT_TRUE(
        delay_notice_due(queued({RcptStatus::bounced, RcptStatus::deferred}), late, 4 * kHour));
    EXPECT_FALSE(
        delay_notice_due(queued({RcptStatus::delivered, RcptStatus::bounced}), late, 4 * kHour));
}

}  // namespace
}  // namespace dr::relay
