// The connection cache (see conn_cache.hpp).
#include "relay/queue/conn_cache.hpp"

#include "conf/config.hpp"

namespace dr::relay {

ConnectionCache::ConnectionCache(asio::any_io_executor ex, Limits limits)
    : limits_(limits), timer_(ex) {}

ConnectionCache::~ConnectionCache() {
    *alive_ = false;
}

// The key spells out the plan field by field; two plans with the same key would make the same
// verdict on the same peer.
std::string ConnectionCache::key(const dane::Destination& d, const dane::HostPlan& plan,
                                 const std::string& address) {
    std::string k = d.domain;
    k += '\n';
    k += conf::to_string(d.context.level);
    k += '\n';
    k += plan.host;
    k += '\n';
    k += address;
    k += '\n';
    k += std::to_string(d.context.port);
    k += '\n';
    k += dane::to_string(plan.tls);
    k += plan.half_dane ? " half-dane\n" : "\n";
    k += plan.tlsa_base;
    for (const auto& r : plan.tlsa) {
        k += '\n';
        k += r.to_string();
    }
    k += "\nnames";
    for (const auto& n : plan.match_names) {
        k += ' ';
        k += n;
    }
    return k;
}

bool ConnectionCache::expired(const Entry& e, std::chrono::steady_clock::time_point now) const {
    return now - e.idle_since >= limits_.idle || now - e.parked.opened >= limits_.reuse_time ||
           !e.parked.conn.session || !e.parked.conn.session->usable();
}

bool ConnectionCache::wanted(const std::string& destination) const {
    if (closed_ || limits_.idle <= std::chrono::milliseconds::zero()) return false;
    return !demand_ || demand_(destination);
}

std::optional<ParkedConnection> ConnectionCache::take(const std::string& key) {
    const auto now = std::chrono::steady_clock::now();
    auto [first, last] = parked_.equal_range(key);
    for (auto it = first; it != last;) {
        if (expired(it->second, now)) {
            it = parked_.erase(it);  // closes it
            continue;
        }
        ParkedConnection out = std::move(it->second.parked);
        parked_.erase(it);
        ++reused_;
        return out;
    }
    return std::nullopt;
}

void ConnectionCache::park(std::string key, ParkedConnection conn) {
    if (closed_ || limits_.idle <= std::chrono::milliseconds::zero() || !conn.conn.session ||
        !conn.conn.session->usable())
        return;  // dropping it closes the socket
    if (parked_.size() >= limits_.max_parked) sweep();
    if (parked_.size() >= limits_.max_parked) return;
    parked_.emplace(std::move(key), Entry{std::move(conn), std::chrono::steady_clock::now()});
    arm();
}

void ConnectionCache::close_all() {
    closed_ = true;
    parked_.clear();
    timer_.cancel();
}

void ConnectionCache::sweep() {
    const auto now = std::chrono::steady_clock::now();
    for (auto it = parked_.begin(); it != parked_.end();)
        it = expired(it->second, now) ? parked_.erase(it) : std::next(it);
}

// One timer for the whole cache, every quarter of the idle limit while anything is parked.
void ConnectionCache::arm() {
    if (armed_ || parked_.empty()) return;
    armed_ = true;
    timer_.expires_after(std::max(limits_.idle / 4, std::chrono::milliseconds(50)));
    timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
        if (!*alive) return;
        armed_ = false;
        if (ec || closed_) return;
        sweep();
        arm();
    });
}

}  // namespace dr::relay
