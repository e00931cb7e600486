#include "relay/queue/in_flow.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace dr::relay {

void InFlow::put() {
    auto n = tokens_.load(std::memory_order_relaxed);
    while (n < limit_ && !tokens_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) {
    }
}

bool InFlow::take() {
    auto n = tokens_.load(std::memory_order_relaxed);
    while (n > 0 && !tokens_.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) {
    }
    return n > 0;
}

boost::asio::awaitable<bool> InFlow::admit(std::chrono::milliseconds delay,
                                           std::chrono::milliseconds poll) {
    if (delay.count() <= 0) co_return false;
    if (take()) co_return true;
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
    const auto deadline = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < deadline) {
        timer.expires_after(std::min<std::chrono::steady_clock::duration>(
            poll, deadline - std::chrono::steady_clock::now()));
        boost::system::error_code ec;
        co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        if (take()) co_return true;
        if (ec) break;
    }
    co_return false;
}

}  // namespace dr::relay
