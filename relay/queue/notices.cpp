// Non-delivery and delay notices into the spool (see notices.hpp).
#include "relay/queue/notices.hpp"

#include <algorithm>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "relay/queue/bounce.hpp"
#include "relay/spool/unix_time.hpp"

namespace dr::relay {

namespace {

// The notice as a message of its own: one recipient, the original sender; the null sender.
QueuedEnvelope notice_envelope(const Notice& notice, const std::string& hostname) {
    QueuedEnvelope env;
    env.recipients.push_back({.address = notice.to, .notify = "", .orcpt = ""});
    env.body = notice.eightbit ? smtp::BodyType::eight_bit_mime : smtp::BodyType::unspecified;
    env.smtputf8 = notice.smtputf8;
    env.client_name = "localhost";
    env.helo = hostname;
    return env;
}

NoticeInput bounce_input(const std::string& hostname, const MessageInfo& info,
                         const std::string& body) {
    NoticeInput in;
    in.hostname = hostname;
    in.queue_id = info.id;
    in.envelope = info.envelope;
    in.content = body;
    in.now_us = unix_micros();
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

// The start of the original message, up to and with the end of its header section (the empty
// line), at most kHeadLimit octets cut after the last whole line: a delay notice returns
// headers only, so the body is not read. Blocking: runs on the spool's pool.
constexpr std::size_t kHeadLimit = 1 << 20;
AsyncSpool::BodyResult read_head(Spool& spool, const std::string& id) {
    AsyncSpool::BodyResult r;
    auto reader = spool.open_body(id, r.ec);
    if (!reader) return r;
    std::string piece;
    while (r.body.size() < kHeadLimit) {
        if ((r.ec = reader->read(64 * 1024, piece)) || piece.empty()) break;
        r.body += piece;
        auto end = r.body.find("\n\r\n");
        if (end == std::string::npos) end = r.body.find("\n\n");
        if (r.body.starts_with("\r\n") || r.body.starts_with("\n")) end = 0;
        if (end != std::string::npos) {
            r.body.resize(end + 1);
            return r;
        }
    }
    if (auto nl = r.body.rfind('\n'); nl != std::string::npos) r.body.resize(nl + 1);
    return r;
}

NoticeInput delay_input(const std::string& hostname, const MessageInfo& info, std::string_view head,
                        std::int64_t retry_until_us) {
    NoticeInput in;
    in.hostname = hostname;
    in.queue_id = info.id;
    in.envelope = info.envelope;
    in.content = head;
    in.now_us = unix_micros();
    in.retry_until_us = retry_until_us;
    for (std::size_t i = 0; i < info.rcpts.size(); ++i) {
        const auto& st = info.rcpts[i];
        if (st.status != RcptStatus::pending && st.status != RcptStatus::deferred) continue;
        auto fields = dsn_fields(st.reason);
        // The status of a delay is always 4.x.x (RFC 3463); a recipient not tried yet has no
        // reason, and then no Diagnostic-Code.
        in.recipients.push_back({info.envelope.recipients[i].address,
                                 info.envelope.recipients[i].orcpt, DsnAction::delayed,
                                 st.dsn.starts_with("4.") ? st.dsn : "4.0.0",
                                 std::move(fields.diagnostic), std::move(fields.remote_mta), 0});
    }
    return in;
}

}  // namespace

bool delay_notice_due(const MessageInfo& info, std::int64_t now_us, std::int64_t warning_us) {
    if (warning_us <= 0 || !info.delay_notice.empty()) return false;
    if (now_us - info.envelope.arrival_us < warning_us) return false;
    return std::any_of(info.rcpts.begin(), info.rcpts.end(), [](const RcptState& st) {
        return st.status == RcptStatus::pending || st.status == RcptStatus::deferred;
    });
}

boost::asio::awaitable<NoticeResult> queue_delay_notice(AsyncSpool& spool, Logger& log,
                                                        const std::string& hostname,
                                                        const MessageInfo& info,
                                                        std::int64_t retry_until_us) {
    using boost::asio::use_awaitable;
    auto job = [&s = spool.spool(), id = info.id] { return read_head(s, id); };
    auto head = co_await spool.async_call<AsyncSpool::BodyResult>(std::move(job), use_awaitable);
    if (head.ec) {
        log.warning(
            Role::bounce,
            info.id + ": cannot read queue file for the delay notification: " + head.ec.message());
        co_return NoticeResult{NoticeResult::Kind::failed, {}};
    }
    auto notice = compose_notice(delay_input(hostname, info, head.body, retry_until_us));
    if (!notice) {
        log.info(Role::bounce,
                 info.id + ": no delay notification: " +
                     (info.envelope.sender.empty() ? "null sender" : "NOTIFY says none"));
        auto ec = co_await spool.async_mark_delay_notice(info.id, "", use_awaitable);
        NoticeResult none;
        none.marked = !ec;
        co_return none;
    }
    auto env = notice_envelope(*notice, hostname);
    auto begun = co_await spool.async_begin(use_awaitable, Reserve::may_use);
    CommitResult r{begun.ec, {}};
    if (begun.writer) {
        auto w = co_await spool.async_write(std::move(begun.writer), std::move(notice->message),
                                            use_awaitable);
        r = co_await spool.async_commit(std::move(w.writer), env, use_awaitable);
    }
    if (r.ec) {
        log.warning(Role::bounce,
                    info.id + ": cannot queue the delay notification: " + r.ec.message());
        co_return NoticeResult{NoticeResult::Kind::failed, {}};
    }
    log.info(Role::bounce, info.id + ": sender delay notification: " + r.id);
    // Marked only now that it is queued: a kill before this line means a second notice after
    // the restart (at most one duplicate), never none.
    NoticeResult done{NoticeResult::Kind::queued, r.id};
    if (auto ec = co_await spool.async_mark_delay_notice(info.id, r.id, use_awaitable)) {
        log.warning(Role::bounce, info.id +
                                      ": cannot mark the delay notification in the queue file: " +
                                      ec.message() + "; a restart may send it again");
        done.marked = false;
    }
    co_return done;
}

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
    auto env = notice_envelope(*notice, hostname);
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
