// Slows down password guessing per client address (SPEC §3), without I/O: each AUTH failure
// from an address waits one step longer than the one before (0 s, 1 s, 2 s, ... up to a cap)
// before its 535 goes out, like Postfix's smtpd_error_sleep_time grown per address; an
// address is forgotten after a quiet period. Entry point: AuthThrottle::failed. The caller
// does the waiting (on a timer, never blocking) and keeps one instance per daemon.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>

namespace dr::smtp {

class AuthThrottle {
  public:
    using Clock = std::chrono::steady_clock;
    struct Policy {
        Clock::duration step = std::chrono::seconds(1);
        Clock::duration max_delay = std::chrono::seconds(10);
        Clock::duration forget_after = std::chrono::minutes(10);  // since the last failure
        std::size_t max_addresses = 10000;  // memory bound; the stalest go first
    };

    AuthThrottle() = default;
    explicit AuthThrottle(Policy p) : policy_(p) {}
    // Records a failure from `address` at `now`; returns how long to wait before answering.
    Clock::duration failed(const std::string& address, Clock::time_point now);
    std::size_t addresses() const { return seen_.size(); }

  private:
    struct Record {
        unsigned failures = 0;
        Clock::time_point last;
    };
    void prune(Clock::time_point now);

    Policy policy_;
    std::map<std::string, Record> seen_;
};

}  // namespace dr::smtp
