// Non-delivery notices into the spool (see notices.hpp).
#include "relay/queue/notices.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "relay/queue/bounce.hpp"

namespace dr::relay {

namespace {

NoticeInput bounce_input(const std::string& hostname, const MessageInfo& info,
                         const std::string& body) {
    NoticeInput in;
    in.hostname = hostname;
    in.queue_id = info.id;
    in.envelope = info.envelope;
    in.content = body;
    in.now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    for (std::size_t i = 0; i < info.rcpts.size(); ++i)
        if (info.rcpts[i].status == RcptStatus::bounced) {
            // Remote-MTA and the remote reply (RFC 3464 §2.3.5, §2.3.6), as Postfix reports.
            auto fields = dsn_fields(info.rcpts[i].reason);
            in.recipients.push_back({info.envelope.recipients[i].address,
                                     info.envelope.recipients[i].orcpt, DsnAction::failed,
                                     info.rcpts[i].dsn, std::move(fields.diagnostic),
                                     std::move(fields.remote_mta), 0});
        }
    return in;
}

}  // namespace

boost::asio::awaitable<NoticeResult> queue_bounce_notice(AsyncSpool& spool, Logger& log,
                                                         const std::string& hostname,
                                                         const MessageInfo& info,
                                                         const std::string& body) {
    auto notice = compose_notice(bounce_input(hostname, info, body));
    if (!notice) {
        log.info(Role::bounce,
                 info.id + ": no non-delivery notification: " +
                     (info.envelope.sender.empty() ? "null sender" : "NOTIFY says none"));
        co_return NoticeResult{};
    }
    QueuedEnvelope env;
    env.recipients.push_back({.address = notice->to, .notify = "", .orcpt = ""});
    env.body = notice->eightbit ? smtp::BodyType::eight_bit_mime : smtp::BodyType::unspecified;
    env.smtputf8 = notice->smtputf8;
    env.client_name = "localhost";
    env.helo = hostname;
    // The notice may use the space kept back from new mail (SpoolOptions::min_free_bytes).
    auto begun = co_await spool.async_begin(boost::asio::use_awaitable, Reserve::may_use);
    CommitResult r{begun.ec, {}};
    if (begun.writer) {
        // Its ID goes into the original's journal before the commit, so that after a crash
        // the relay knows whether this notice exists (queued) or must be made again (it does
        // not). A failed mark costs at most a second notice after a crash, not this one.
        const std::string id = begun.writer->id();
        co_await spool.async_mark_notice(info.id, id, boost::asio::use_awaitable);
        // The writer keeps a write error and reports it from the commit.
        auto w = co_await spool.async_write(std::move(begun.writer), std::move(notice->message),
                                            boost::asio::use_awaitable);
        r = co_await spool.async_commit(std::move(w.writer), env, boost::asio::use_awaitable);
    }
    if (r.ec) {
        log.warning(Role::bounce,
                    info.id + ": cannot queue the non-delivery notification: " + r.ec.message());
        co_return NoticeResult{NoticeResult::Kind::failed, {}};
    }
    log.info(Role::bounce, info.id + ": sender non-delivery notification: " + r.id);
    co_return NoticeResult{NoticeResult::Kind::queued, r.id};
}

}  // namespace dr::relay
