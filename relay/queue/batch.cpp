// Grouping and batching of due recipients (see batch.hpp).
#include "relay/queue/batch.hpp"

#include <algorithm>
#include <map>

#include "dane/dns.hpp"

namespace dr::relay {

std::string recipient_domain(std::string_view address) {
    auto at = address.rfind('@');
    if (at == std::string_view::npos) return {};
    return dane::normalize_name(std::string(address.substr(at + 1)));
}

// A domain name never holds a space.
std::string queue_key(std::string_view domain, TlsAsk ask) {
    std::string key(domain);
    if (ask == TlsAsk::requiretls) key += " requiretls";
    if (ask == TlsAsk::optional) key += " tls-required-no";
    return key;
}

std::pair<std::string, TlsAsk> split_queue_key(std::string_view key) {
    auto space = key.find(' ');
    if (space == std::string_view::npos) return {std::string(key), TlsAsk::policy};
    const auto what = key.substr(space + 1);
    return {std::string(key.substr(0, space)),
            what == "requiretls" ? TlsAsk::requiretls : TlsAsk::optional};
}

std::vector<BatchedMessage> take_batch(std::vector<DueRecipient>& due, std::size_t max_messages) {
    std::vector<BatchedMessage> out;
    std::map<std::string, std::size_t, std::less<>> index;  // id -> position in out
    std::vector<DueRecipient> keep;
    for (auto& d : due) {
        auto it = index.find(d.id);
        if (it == index.end() && out.size() < max_messages) {
            it = index.emplace(d.id, out.size()).first;
            out.push_back({d.id, {}});
        }
        if (it == index.end())
            keep.push_back(std::move(d));
        else if (auto& rs = out[it->second].rcpts;
                 std::find(rs.begin(), rs.end(), d.rcpt) == rs.end())
            rs.push_back(d.rcpt);
    }
    due = std::move(keep);
    return out;
}

bool DueQueue::add(const std::string& id, std::size_t rcpt) {
    auto [it, fresh] = due_.try_emplace(id);
    auto& rs = it->second;
    if (!fresh && std::find(rs.begin(), rs.end(), rcpt) != rs.end()) return false;
    if (fresh) order_.push_back(id);
    rs.push_back(rcpt);
    ++recipients_;
    return true;
}

std::vector<BatchedMessage> DueQueue::take(std::size_t max_messages) {
    std::vector<BatchedMessage> out;
    while (out.size() < max_messages && !order_.empty()) {
        auto it = due_.find(order_.front());
        out.push_back({std::move(order_.front()), std::move(it->second)});
        order_.pop_front();
        due_.erase(it);
        recipients_ -= out.back().rcpts.size();
    }
    return out;
}

bool may_start_worker(std::size_t queued, std::size_t running_here, std::size_t running,
                      const WorkerLimits& limits) {
    return queued > 0 && running < limits.concurrency &&
           running_here < limits.destination_concurrency && running_here * limits.batch < queued;
}

std::vector<std::size_t> choose_starts(const std::vector<DestinationLoad>& dests, std::size_t first,
                                       std::size_t running, std::size_t running_slow,
                                       const WorkerLimits& limits) {
    std::vector<std::size_t> out;
    std::vector<std::size_t> workers;
    for (const auto& d : dests) workers.push_back(d.running);
    const std::size_t n = dests.size();
    for (std::size_t round = 0; round < limits.destination_concurrency; ++round) {
        for (Pace pace : {Pace::fast, Pace::unknown, Pace::slow}) {
            for (std::size_t k = 0; k < n && running < limits.concurrency; ++k) {
                std::size_t i = (first + k) % n;
                const auto& d = dests[i];
                if (d.pace != pace || workers[i] != round) continue;
                bool slow = pace == Pace::slow;
                if (slow && running_slow >= limits.slow_concurrency) continue;
                if (!may_start_worker(d.queued, workers[i], running, limits)) continue;
                out.push_back(i);
                ++workers[i];
                ++running;
                if (slow) ++running_slow;
            }
        }
        if (running >= limits.concurrency) break;
    }
    return out;
}

}  // namespace dr::relay
