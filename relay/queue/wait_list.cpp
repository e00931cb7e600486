// Deferred messages by due time (see wait_list.hpp).
#include "relay/queue/wait_list.hpp"

namespace dr::relay {

void WaitList::add(const QueueKey& id, Time when, std::int64_t wall_us, bool announced, Keep keep) {
    auto [it, fresh] = by_id_.try_emplace(id, Wait{when, wall_us, announced});
    if (fresh) {
        by_time_.emplace(when, id);
        return;
    }
    it->second.announced = it->second.announced || announced;
    if (keep == Keep::existing || when >= it->second.when) return;
    by_time_.erase({it->second.when, id});
    by_time_.emplace(when, id);
    it->second.when = when;
    it->second.wall_us = wall_us;
}

std::optional<bool> WaitList::announced(const QueueKey& id) const {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return std::nullopt;
    return it->second.announced;
}

std::optional<WaitList::Time> WaitList::next() const {
    if (by_time_.empty()) return std::nullopt;
    return by_time_.begin()->first;
}

std::vector<WaitList::Woken> WaitList::take_due(Time now, std::size_t max) {
    std::vector<Woken> out;
    while (out.size() < max && !by_time_.empty() && by_time_.begin()->first <= now) {
        const QueueKey id = by_time_.begin()->second;
        by_time_.erase(by_time_.begin());
        auto it = by_id_.find(id);
        out.push_back({id, it->second.wall_us, it->second.announced});
        by_id_.erase(it);
    }
    return out;
}

std::vector<WaitList::Woken> WaitList::take_all() {
    return take_due(Time::max(), by_id_.size());
}

}  // namespace dr::relay
