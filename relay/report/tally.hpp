// The survey tally of a mail log (SPEC §11 `report`): TLS connections by level, deliveries
// by status with the TLS level each sent message left under, failures by reason, and the
// same per recipient domain and per MX host. Feed it lines in log order with add().
//
// A delivery line names no TLS level, so it takes the level of the latest TLS line of the
// same process to the same host[address]:port (Postfix writes one session at a time per
// process; dane-relay writes each session's TLS line at its handshake, before its
// deliveries); with none, the message left in plaintext.
#pragma once

#include <cstdint>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "relay/report/maillog.hpp"

namespace dr::relay::report {

// Counts for one group (everything, a domain, an MX host).
struct Counts {
    std::map<std::string, std::uint64_t> sent;  // TLS level or "plaintext" -> messages
    std::uint64_t deferred = 0, bounced = 0;
    std::uint64_t sent_total() const;
    std::uint64_t total() const { return sent_total() + deferred + bounced; }
};

struct FailureCount {
    std::uint64_t deferred = 0, bounced = 0;
    bool dane = false;
};

struct Window {
    std::optional<std::time_t> since, until;  // since <= when < until
    bool contains(std::time_t t) const { return (!since || t >= *since) && (!until || t < *until); }
};

class Tally {
  public:
    explicit Tally(Window w = {}) : window_(w) {}

    void add(const LogLine& line);

    std::map<std::string, std::uint64_t> connections;  // TLS level -> TLS lines
    Counts all;
    std::map<std::string, FailureCount> failures;  // reason label -> counts
    std::map<std::string, Counts> domains, mx_hosts;
    std::uint64_t lines = 0, matched = 0;  // log lines added, TLS or delivery lines counted

  private:
    void add_delivery(const LogLine& line, const Delivery& d);

    Window window_;
    std::map<std::string, std::string, std::less<>> level_of_;  // "name[pid] endpoint" -> level
};

}  // namespace dr::relay::report
