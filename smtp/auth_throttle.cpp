#include "smtp/auth_throttle.hpp"

#include <algorithm>

namespace dr::smtp {

AuthThrottle::Clock::duration AuthThrottle::failed(const std::string& address,
                                                   Clock::time_point now) {
    if (seen_.size() >= policy_.max_addresses && !seen_.contains(address)) prune(now);
    Record& r = seen_[address];
    if (r.failures > 0 && now - r.last > policy_.forget_after) r.failures = 0;
    ++r.failures;
    r.last = now;
    return std::min(policy_.step * (r.failures - 1), policy_.max_delay);
}

// Drops the addresses quiet for forget_after; when all are recent, the stalest one.
void AuthThrottle::prune(Clock::time_point now) {
    std::erase_if(seen_, [&](const auto& e) { return now - e.second.last > policy_.forget_after; });
    if (seen_.size() < policy_.max_addresses) return;
    auto stalest = std::min_element(seen_.begin(), seen_.end(), [](const auto& a, const auto& b) {
        return a.second.last < b.second.last;
    });
    seen_.erase(stalest);
}

}  // namespace dr::smtp
