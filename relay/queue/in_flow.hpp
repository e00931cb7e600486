// Inbound flow control, Postfix's in_flow_delay: when mail arrives faster than the queue
// manager gets through it, a new message waits up to the delay for a token before it is
// accepted. The queue manager puts a token back whenever an attempt on a message ends;
// tokens are capped at `limit` (Postfix: default_process_limit), so a queue that keeps up
// never makes anyone wait, and one that falls behind lets in about its own rate (plus one
// message per session per delay, as Postfix: after the delay the message goes in anyway).
// Thread-safe: the inbound loop takes, the queue's loop puts. Entry point: InFlow.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>

namespace dr::relay {

class InFlow {
  public:
    explicit InFlow(std::int64_t limit) : limit_(limit), tokens_(limit) {}

    // One token back (an attempt ended); never above the limit.
    void put();
    // Takes a token if there is one.
    bool take();
    // Waits until a token is taken or `delay` has passed (checking every `poll`); true when
    // a token was taken. A zero delay takes none and waits not.
    boost::asio::awaitable<bool> admit(std::chrono::milliseconds delay,
                                       std::chrono::milliseconds poll = kPoll);
    std::int64_t tokens() const { return tokens_.load(std::memory_order_relaxed); }

    static constexpr std::chrono::milliseconds kPoll{5};

  private:
    const std::int64_t limit_;
    std::atomic<std::int64_t> tokens_;
};

}  // namespace dr::relay
