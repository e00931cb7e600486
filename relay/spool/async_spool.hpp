// Asio front end of the spool: every call that touches the disk (open, write, read, fsync,
// rename, unlink) runs on a small thread pool and completes on the caller's executor, so the
// event loop never blocks on the disk and SMTP sessions (coroutines) can co_await a commit.
// Entry points: AsyncSpool::async_begin (begin_deferred: no disk call, the file comes with the
// first write) / async_write / async_commit / async_update /
// async_remove / async_read_body / async_call (any completion token, e.g.
// asio::use_awaitable). Results are values (CommitResult, std::error_code), never exceptions.
#pragma once

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "relay/spool/off_loop.hpp"
#include "relay/spool/spool.hpp"

namespace dr::relay {

class AsyncSpool {
  public:
    // `threads` bounds the fdatasyncs in flight; the directory fsyncs of all of them are
    // shared through the spool's group commit, so more threads mean fewer fsyncs per message.
    AsyncSpool(Spool& spool, std::size_t threads) : spool_(spool), pool_(threads) {}
    ~AsyncSpool() { pool_.join(); }

    Spool& spool() { return spool_; }

    struct BeginResult {
        std::error_code ec;
        std::unique_ptr<SpoolWriter> writer;  // set when !ec
    };
    // Spool::begin on the pool. Completion signature void(BeginResult).
    template <typename Token>
    auto async_begin(Token&& token, Reserve reserve = Reserve::keep) {
        return run<BeginResult>(
            [this, reserve] {
                BeginResult r;
                r.writer = spool_.begin(r.ec, reserve);
                return r;
            },
            std::forward<Token>(token));
    }

    // Spool::begin_deferred here and now (no file yet: the pool makes it with the first write).
    BeginResult begin_deferred(Reserve reserve = Reserve::keep) {
        BeginResult r;
        r.writer = spool_.begin_deferred(r.ec, reserve);
        return r;
    }

    struct WriteResult {
        std::error_code ec;
        std::unique_ptr<SpoolWriter> writer;  // handed back for the next write or the commit
    };
    // SpoolWriter::write of a (large) chunk on the pool; the writer travels with the job, so
    // nothing refers to it while the write runs. Completion signature void(WriteResult).
    template <typename Token>
    auto async_write(std::unique_ptr<SpoolWriter> writer, std::string chunk, Token&& token) {
        return run<WriteResult>(
            [w = std::move(writer), c = std::move(chunk)]() mutable {
                auto ec = w->write(c);
                return WriteResult{ec, std::move(w)};
            },
            std::forward<Token>(token));
    }

    // Drops an uncommitted message (close and unlink of its incoming file) on the pool.
    void discard(std::unique_ptr<SpoolWriter> writer) {
        if (writer) boost::asio::post(pool_, [w = std::move(writer)]() mutable { w.reset(); });
    }

    // Completion signature void(CommitResult).
    template <typename Token>
    auto async_commit(QueuedEnvelope env, std::string body, Token&& token,
                      Reserve reserve = Reserve::keep) {
        return run<CommitResult>(
            [this, env = std::move(env), body = std::move(body), reserve]() mutable {
                return spool_.commit(std::move(env), body, reserve);
            },
            std::forward<Token>(token));
    }

    // For a body already streamed into a SpoolWriter. Completion signature void(CommitResult).
    template <typename Token>
    auto async_commit(std::unique_ptr<SpoolWriter> writer, QueuedEnvelope env, Token&& token) {
        return run<CommitResult>(
            [this, w = std::move(writer), env = std::move(env)]() mutable {
                return spool_.commit(std::move(w), std::move(env));
            },
            std::forward<Token>(token));
    }

    // The same with the body's last piece, written first in the same trip to the pool (a small
    // message costs one trip, not two); a failed write drops the file there.
    template <typename Token>
    auto async_commit(std::unique_ptr<SpoolWriter> writer, std::string tail, QueuedEnvelope env,
                      Token&& token) {
        return run<CommitResult>(
            [this, w = std::move(writer), t = std::move(tail), env = std::move(env)]() mutable {
                if (auto ec = w->write(t)) {
                    w.reset();
                    return CommitResult{ec, {}};
                }
                return spool_.commit(std::move(w), std::move(env));
            },
            std::forward<Token>(token));
    }

    // Completion signature void(std::error_code).
    template <typename Token>
    auto async_mark_notice(std::string id, std::string notice, Token&& token) {
        return run<std::error_code>(
            [this, id = std::move(id), n = std::move(notice)] { return spool_.mark_notice(id, n); },
            std::forward<Token>(token));
    }

    // Completion signature void(std::error_code).
    template <typename Token>
    auto async_mark_delay_notice(std::string id, std::string notice, Token&& token) {
        return run<std::error_code>(
            [this, id = std::move(id), n = std::move(notice)] {
                return spool_.mark_delay_notice(id, n);
            },
            std::forward<Token>(token));
    }

    // Completion signature void(std::error_code).
    template <typename Token>
    auto async_update(std::string id, std::vector<StatusUpdate> updates, Token&& token) {
        return run<std::error_code>(
            [this, id = std::move(id), u = std::move(updates)] { return spool_.update(id, u); },
            std::forward<Token>(token));
    }

    // Completion signature void(std::error_code).
    template <typename Token>
    auto async_remove(std::string id, Token&& token, Spool::Sync sync = Spool::Sync::now) {
        return run<std::error_code>(
            [this, id = std::move(id), sync] { return spool_.remove(id, sync); },
            std::forward<Token>(token));
    }

    // Spool::sync_removals on the pool. Completion signature void(std::error_code).
    template <typename Token>
    auto async_sync_removals(Token&& token) {
        return run<std::error_code>([this] { return spool_.sync_removals(); },
                                    std::forward<Token>(token));
    }

    // Completion signature void(std::error_code).
    template <typename Token>
    auto async_move_to_corrupt(std::string id, Token&& token) {
        return run<std::error_code>(
            [this, id = std::move(id)] { return spool_.move_to_corrupt(id); },
            std::forward<Token>(token));
    }

    struct BodyResult {
        std::error_code ec;
        std::string body;
    };
    // The whole body in memory (bounce notices); deliveries stream it (SpoolBodySource).
    // Completion signature void(BodyResult).
    template <typename Token>
    auto async_read_body(std::string id, Token&& token) {
        return run<BodyResult>(
            [this, id = std::move(id)] {
                BodyResult r;
                r.ec = spool_.read_body(id, r.body);
                return r;
            },
            std::forward<Token>(token));
    }

    // Any other blocking work on the pool (fn() returns a Result). Completion signature
    // void(Result).
    template <typename Result, typename Fn, typename Token>
    auto async_call(Fn fn, Token&& token) {
        return run<Result>(std::move(fn), std::forward<Token>(token));
    }

  private:
    template <typename Result, typename Fn, typename Token>
    auto run(Fn fn, Token&& token) {
        return off_loop<Result>(pool_, std::move(fn), std::forward<Token>(token));
    }

    Spool& spool_;
    boost::asio::thread_pool pool_;
};

}  // namespace dr::relay
