// Queues the notices the queue manager owes senders (SPEC §4, RFC 3464): when a message ends
// with bounced recipients, a non-delivery notice composed by bounce.hpp is committed to the
// spool with the null sender, like any other message, and logged as Postfix's bounce daemon
// does. Its queue ID is marked in the original's journal (Spool::mark_notice) before it is
// committed. Entry point: queue_bounce_notice(). A notice that cannot be committed is a result
// (NoticeResult::failed), which the failure policy turns into a deferral (trouble.hpp).
// Delay notices (Postfix's delay_warning_time): delay_notice_due() is the timing rule,
// queue_delay_notice() composes one for the recipients still queued, commits it and only then
// marks it in the original's journal (Spool::mark_delay_notice), so a kill in between costs at
// most one duplicate notice after the restart, never a lost one.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>

#include "relay/log/log.hpp"
#include "relay/spool/async_spool.hpp"

namespace dr::relay {

struct NoticeResult {
    enum class Kind { queued, not_wanted, failed } kind = Kind::not_wanted;
    std::string id;      // the notice's queue ID when queued
    bool marked = true;  // delay notices: the D mark was written (else a restart may resend)
    bool queued_or_not_wanted() const { return kind != Kind::failed; }
};

// `body` is the original message (headers and body). Logs the outcome under Role::bounce.
boost::asio::awaitable<NoticeResult> queue_bounce_notice(AsyncSpool& spool, Logger& log,
                                                         const std::string& hostname,
                                                         const MessageInfo& info,
                                                         const std::string& body);

// True when a delay notice is owed now: delay_warning_time is on (> 0), none was sent (no D
// mark), a recipient is still pending or deferred, and the message arrived at least
// `warning_us` before `now_us`. (Null sender and NOTIFY are queue_delay_notice()'s business:
// it marks such a message "none".)
bool delay_notice_due(const MessageInfo& info, std::int64_t now_us, std::int64_t warning_us);

// `retry_until_us`: the end of the message's queue lifetime (Will-Retry-Until; 0 leaves it out).
// Reads the original's header section, queues the notice with the null sender and logs
// "ID: sender delay notification: NOTICEID" under Role::bounce; marks the original with the
// notice's ID, or "none" when its sender gets none. `failed` when it could not be queued.
boost::asio::awaitable<NoticeResult> queue_delay_notice(AsyncSpool& spool, Logger& log,
                                                        const std::string& hostname,
                                                        const MessageInfo& info,
                                                        std::int64_t retry_until_us);

}  // namespace dr::relay
