// Blocking work (disk reads and writes, fsync) run off the event loop: off_loop() posts fn to
// a thread pool and, when it returns, posts its result to the completion handler's own
// executor, so a coroutine on the loop co_awaits it and resumes on the loop. Used by the
// spool (relay/spool/async_spool.hpp) and by `check --survey`'s list and output files.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <utility>

namespace dr::relay {

// Runs fn() on `pool` (an executor or execution context), then completes `token` with its
// result on the handler's associated executor. Completion signature void(Result).
template <typename Result, typename Pool, typename Fn, typename Token>
auto off_loop(Pool& pool, Fn fn, Token&& token) {
    namespace asio = boost::asio;
    return asio::async_initiate<Token, void(Result)>(
        [&pool](auto handler, Fn fn) {
            auto work = asio::make_work_guard(asio::get_associated_executor(handler));
            asio::post(pool, [fn = std::move(fn), handler = std::move(handler),
                              work = std::move(work)]() mutable {
                Result result = fn();
                auto ex = work.get_executor();
                asio::post(ex,
                           [handler = std::move(handler), result = std::move(result)]() mutable {
                               std::move(handler)(std::move(result));
                           });
            });
        },
        token, std::move(fn));
}

}  // namespace dr::relay
