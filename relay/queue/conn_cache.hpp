// Keeps SMTP connections open between delivery attempts (SPEC §4 "connection cache";
// Postfix's smtp_connection_cache_time_limit and smtp_connection_reuse_time_limit). After an
// attempt, a connection that is still usable is parked under a key naming the destination, the
// host, the address, the port and the host's whole TLS plan (level, TLSA RRset, names); a later
// attempt takes it back only when every part is the same, so a session made under an old TLSA
// RRset or policy is never reused for the new one. A parked connection is closed once idle for
// the cache time limit or open for the reuse time limit. As Postfix's
// smtp_connection_cache_on_demand, a connection is parked only while its destination has a
// backlog (the demand predicate); otherwise the caller says QUIT at once. Entry points:
// ConnectionCache::key(), wanted(), take(), park(), close_all().
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "dane/destination.hpp"
#include "relay/queue/connect.hpp"

namespace dr::relay {

struct ParkedConnection {
    HostConnection conn;
    std::chrono::steady_clock::time_point opened;  // when its TCP connection was made
};

class ConnectionCache {
  public:
    struct Limits {
        std::chrono::milliseconds idle{2000};  // 0: the cache is off
        std::chrono::milliseconds reuse_time{300'000};
        std::size_t max_parked = 100;
    };

    ConnectionCache(asio::any_io_executor ex, Limits limits);
    ~ConnectionCache();
    ConnectionCache(const ConnectionCache&) = delete;
    ConnectionCache& operator=(const ConnectionCache&) = delete;

    // Everything a reused session must share with a new one (see the header comment).
    static std::string key(const dane::Destination& d, const dane::HostPlan& plan,
                           const std::string& address);

    // Whether a connection to `destination` is worth parking now: the cache is on and open, and
    // the predicate (none: always) says the destination has more mail waiting.
    void set_demand(std::function<bool(const std::string& destination)> demand) {
        demand_ = std::move(demand);
    }
    bool wanted(const std::string& destination) const;
    // The connection parked under `key` that is still within its limits, taken out of the cache.
    std::optional<ParkedConnection> take(const std::string& key);
    // Parks a usable connection; closes it instead when the cache is off, full or closed.
    void park(std::string key, ParkedConnection conn);
    // Closes every parked connection (without QUIT) and parks no more.
    void close_all();
    std::size_t size() const { return parked_.size(); }
    std::uint64_t reused() const { return reused_; }

  private:
    struct Entry {
        ParkedConnection parked;
        std::chrono::steady_clock::time_point idle_since;
    };
    bool expired(const Entry& e, std::chrono::steady_clock::time_point now) const;
    void sweep();
    void arm();

    Limits limits_;
    std::function<bool(const std::string&)> demand_;
    std::multimap<std::string, Entry> parked_;
    asio::steady_timer timer_;
    bool armed_ = false;
    bool closed_ = false;
    std::uint64_t reused_ = 0;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace dr::relay
