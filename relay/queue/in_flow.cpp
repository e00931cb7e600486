#include "relay/queue/in_flow.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace dr::relay {

// A message waiting for a token: put() sets `granted` (under the mutex) and cancels the
// timer on the timer's own executor (a timer is not thread-safe).
struct InFlow::Waiter {
    explicit Waiter(const boost::asio::any_io_executor& ex) : timer(ex) {}
    boost::asio::steady_timer timer;
    bool granted = false;
};

void InFlow::put() {
    std::shared_ptr<Waiter> w;
    {
        std::lock_guard lock(mu_);
        if (waiters_.empty()) {
            tokens_ = std::min(limit_, tokens_ + 1);
            return;
        }
        w = std::move(waiters_.front());
        waiters_.pop_front();
        w->granted = true;
    }
    auto ex = w->timer.get_executor();
    boost::asio::post(ex, [w = std::move(w)] { w->timer.cancel(); });
}

bool InFlow::take() {
    std::lock_guard lock(mu_);
    if (tokens_ <= 0) return false;
    --tokens_;
    return true;
}

std::int64_t InFlow::tokens() const {
    std::lock_guard lock(mu_);
    return tokens_;
}

std::size_t InFlow::waiting() const {
    std::lock_guard lock(mu_);
    return waiters_.size();
}

boost::asio::awaitable<bool> InFlow::admit(std::chrono::milliseconds delay) {
    if (delay.count() <= 0) co_return false;
    if (take()) co_return true;
    auto w = std::make_shared<Waiter>(co_await boost::asio::this_coro::executor);
    w->timer.expires_after(delay);
    {
        std::lock_guard lock(mu_);
        if (tokens_ > 0) {  // put back between take() and here
            --tokens_;
            co_return true;
        }
        waiters_.push_back(w);
    }
    co_await w->timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    std::lock_guard lock(mu_);
    if (w->granted) co_return true;
    // Timed out (or the loop is stopping): no longer waiting, the message goes in anyway.
    waiters_.erase(std::find(waiters_.begin(), waiters_.end(), w));
    co_return false;
}

}  // namespace dr::relay
