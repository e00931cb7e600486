// Queues the notices the queue manager owes senders (SPEC §4, RFC 3464): when a message ends
// with bounced recipients, a non-delivery notice composed by bounce.hpp is committed to the
// spool with the null sender, like any other message, and logged as Postfix's bounce daemon
// does. Its queue ID is marked in the original's journal (Spool::mark_notice) before it is
// committed. Entry point: queue_bounce_notice(). A notice that cannot be committed is a result
// (NoticeResult::failed), which the failure policy turns into a deferral (trouble.hpp).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "relay/log/log.hpp"
#include "relay/spool/async_spool.hpp"

namespace dr::relay {

struct NoticeResult {
    enum class Kind { queued, not_wanted, failed } kind = Kind::not_wanted;
    std::string id;  // the notice's queue ID when queued
    bool queued_or_not_wanted() const { return kind != Kind::failed; }
};

// `body` is the original message (headers and body). Logs the outcome under Role::bounce.
boost::asio::awaitable<NoticeResult> queue_bounce_notice(AsyncSpool& spool, Logger& log,
                                                         const std::string& hostname,
                                                         const MessageInfo& info,
                                                         const std::string& body);

}  // namespace dr::relay
