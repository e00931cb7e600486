// The survey tally (see tally.hpp).
#include "relay/report/tally.hpp"

namespace dr::relay::report {

namespace {

std::string session_key(const LogLine& line, std::string_view endpoint) {
    std::string key(line.name);
    key.append("[").append(line.pid).append("] ").append(endpoint);
    return key;
}

void count(Counts& c, const Delivery& d, const std::string& level) {
    if (d.status == "sent")
        ++c.sent[level];
    else if (d.status == "bounced")
        ++c.bounced;
    else
        ++c.deferred;
}

}  // namespace

std::uint64_t Counts::sent_total() const {
    std::uint64_t n = 0;
    for (const auto& [level, k] : sent) n += k;
    return n;
}

void Tally::add(const LogLine& line) {
    ++lines;
    if (line.role() != "smtp") return;
    const bool counted = window_.contains(line.when);
    if (auto tls = parse_tls(line.text)) {
        // Remembered outside the window too: a session begun before --since keeps its level.
        level_of_[session_key(line, tls->endpoint)] = tls->level;
        if (!counted) return;
        ++matched;
        ++connections[tls->level];
        return;
    }
    if (!counted) return;
    if (auto d = parse_delivery(line.text)) {
        if (d->status != "sent" && d->status != "deferred" && d->status != "bounced") return;
        ++matched;
        add_delivery(line, *d);
    }
}

void Tally::add_delivery(const LogLine& line, const Delivery& d) {
    std::string level = "plaintext";
    if (auto it = level_of_.find(session_key(line, d.relay)); it != level_of_.end())
        level = it->second;
    count(all, d, level);
    count(domains[d.domain()], d, level);
    count(mx_hosts[d.relay_host()], d, level);
    if (d.status == "sent") return;
    Reason why = classify(d);
    FailureCount& f = failures[why.label];
    f.dane = why.dane;
    ++(d.status == "bounced" ? f.bounced : f.deferred);
}

}  // namespace dr::relay::report
