// Inbound flow control, Postfix's in_flow_delay: when mail arrives faster than the queue
// manager gets through it, a new message waits up to the delay for a token before it is
// accepted. The queue manager puts a token back whenever an attempt on a message ends;
// tokens are capped at `limit` (Postfix: default_process_limit), so a queue that keeps up
// never makes anyone wait, and one that falls behind lets in about its own rate (plus one
// message per session per delay, as Postfix: after the delay the message goes in anyway).
// Thread-safe: the inbound loop takes, the queue's loop puts. A waiting message is woken by
// the put that hands it its token (no polling). Entry point: InFlow.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>

namespace dr::relay {

class InFlow {
  public:
    explicit InFlow(std::int64_t limit) : limit_(limit), tokens_(limit) {}

    // One token back (an attempt ended): to the longest waiting message, else to the pool,
    // which never holds more than the limit.
    void put();
    // Takes a token if there is one.
    bool take();
    // Waits until a token is handed over or `delay` has passed; true when a token was taken.
    // A zero delay takes none and waits not.
    boost::asio::awaitable<bool> admit(std::chrono::milliseconds delay);
    std::int64_t tokens() const;
    std::size_t waiting() const;

  private:
    struct Waiter;
    const std::int64_t limit_;
    mutable std::mutex mu_;
    std::int64_t tokens_;
    std::deque<std::shared_ptr<Waiter>> waiters_;  // oldest first
};

}  // namespace dr::relay
