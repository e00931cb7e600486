// Deferred messages by when they are next due, one entry per message (for its earliest
// recipient), on the steady clock, so that a queue of a million deferred messages costs a few
// dozen bytes each and every event O(log n). Entry points: WaitList::add, take_due, take_all.
// Pure: no I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "relay/spool/queue_id.hpp"

namespace dr::relay {

class WaitList {
  public:
    using Time = std::chrono::steady_clock::time_point;
    struct Woken {
        QueueKey id;
        std::int64_t wall_us = 0;  // the stored next-attempt time that this wait was for
        bool announced = false;    // its "(queue active)" line was logged already
        bool operator==(const Woken&) const = default;
    };

    // `id` waits until `when`, unless it already waits: for an earlier time, or at all with
    // Keep::existing (a state read again must not move a wait made when it was written).
    // `announced` sticks once set for a message that is waiting.
    enum class Keep { earliest, existing };
    void add(const QueueKey& id, Time when, std::int64_t wall_us, bool announced,
             Keep keep = Keep::earliest);
    bool contains(const QueueKey& id) const { return by_id_.count(id) != 0; }
    // Whether a waiting message was announced; nullopt when it does not wait.
    std::optional<bool> announced(const QueueKey& id) const;
    std::optional<Time> next() const;
    // Removes and returns, earliest first, at most `max` messages due at `now`.
    std::vector<Woken> take_due(Time now, std::size_t max);
    // Removes and returns all, earliest first.
    std::vector<Woken> take_all();
    std::size_t size() const { return by_id_.size(); }
    bool empty() const { return by_id_.empty(); }

  private:
    struct Wait {
        Time when;
        std::int64_t wall_us;
        bool announced;
    };
    std::set<std::pair<Time, QueueKey>> by_time_;
    std::unordered_map<QueueKey, Wait, QueueKeyHash> by_id_;
};

}  // namespace dr::relay
