// Asio front end of the spool: the blocking writes and fsyncs run on a small thread pool and
// complete on the caller's executor, so SMTP sessions (coroutines) can co_await a commit.
// Entry points: AsyncSpool::async_commit / async_update (any completion token, e.g.
// asio::use_awaitable). Results are values: CommitResult or std::error_code, never exceptions.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "relay/spool/spool.hpp"

namespace dr::relay {

class AsyncSpool {
  public:
    // `threads` bounds the fdatasyncs in flight; the directory fsyncs of all of them are
    // shared through the spool's group commit, so more threads mean fewer fsyncs per message.
    AsyncSpool(Spool& spool, std::size_t threads) : spool_(spool), pool_(threads) {}
    ~AsyncSpool() { pool_.join(); }

    Spool& spool() { return spool_; }

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

    // Completion signature void(std::error_code).
    template <typename Token>
    auto async_mark_notice(std::string id, std::string notice, Token&& token) {
        return run<std::error_code>(
            [this, id = std::move(id), n = std::move(notice)] { return spool_.mark_notice(id, n); },
            std::forward<Token>(token));
    }

    // Completion signature void(std::error_code).
    template <typename Token>
    auto async_update(std::string id, std::vector<StatusUpdate> updates, Token&& token) {
        return run<std::error_code>(
            [this, id = std::move(id), u = std::move(updates)] { return spool_.update(id, u); },
            std::forward<Token>(token));
    }

  private:
    // Runs fn on the pool, then posts its result to the handler's associated executor.
    template <typename Result, typename Fn, typename Token>
    auto run(Fn fn, Token&& token) {
        namespace asio = boost::asio;
        return asio::async_initiate<Token, void(Result)>(
            [this](auto handler, Fn fn) {
                auto work = asio::make_work_guard(asio::get_associated_executor(handler));
                asio::post(pool_, [fn = std::move(fn), handler = std::move(handler),
                                   work = std::move(work)]() mutable {
                    Result result = fn();
                    auto ex = work.get_executor();
                    asio::post(
                        ex, [handler = std::move(handler), result = std::move(result)]() mutable {
                            std::move(handler)(std::move(result));
                        });
                });
            },
            token, std::move(fn));
    }

    Spool& spool_;
    boost::asio::thread_pool pool_;
};

}  // namespace dr::relay
