// The relay's Prometheus figures (SPEC §10; the names are the contract): counters bumped
// where the matching log line is written, from either event loop (relaxed atomics, no
// locks), a latency histogram, and render() for the page. Entry points: Metrics (accepted,
// delivery, dns_lookup, tls_connection, render), Histogram. Label values outside SPEC §10's
// lists are not counted (a bug elsewhere, never a reason to fail a delivery).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "relay/metrics/exposition.hpp"
#include "relay/metrics/process.hpp"

namespace dr::relay {

// SPEC §10's label values, in the order they are rendered.
inline constexpr std::array<std::string_view, 3> kDeliveryStatuses{"sent", "deferred", "bounced"};
inline constexpr std::array<std::string_view, 5> kTlsLabels{"Verified", "Trusted", "Untrusted",
                                                            "Anonymous", "none"};
inline constexpr std::array<std::string_view, 4> kDnsTypes{"MX", "A", "AAAA", "TLSA"};
inline constexpr std::array<std::string_view, 4> kDnsSecurities{"secure", "insecure", "bogus",
                                                                "failure"};

// Position of value in a label list, or nullopt.
template <std::size_t N>
std::optional<std::size_t> label_index(const std::array<std::string_view, N>& list,
                                       std::string_view value) {
    for (std::size_t i = 0; i < N; ++i)
        if (list[i] == value) return i;
    return std::nullopt;
}

// Seconds from acceptance to a final status: fixed buckets from 50 ms (a local sink) to
// 5 days (maximal_queue_lifetime's default), so retries after backoffs land in their own.
class Histogram {
  public:
    static constexpr std::array<double, 16> kBounds{
        0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400, 432000};
    void observe(double seconds);
    // name_bucket{le=…} (cumulative, +Inf last), name_sum, name_count.
    void render(Exposition& page, std::string_view name) const;

  private:
    std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};  // not cumulative
    std::atomic<std::uint64_t> sum_us_{0};
};

// Figures read when the page is rendered rather than counted.
struct Sampled {
    std::size_t queue_messages = 0;
    std::optional<ProcessStats> process;
};

class Metrics {
  public:
    void accepted() { accepted_.value.fetch_add(1, std::memory_order_relaxed); }
    // One delivery line: status sent|deferred|bounced, tls the connection's level or "none".
    // final_seconds (acceptance to now) when the recipient's status is final.
    void delivery(std::string_view status, std::string_view tls,
                  std::optional<double> final_seconds);
    void dns_lookup(std::string_view type, std::string_view security);
    // One "<Level> TLS connection established" line; `resumed`: over a resumed session
    // (SPEC §5.6), also counted in dane_relay_tls_sessions_resumed_total.
    void tls_connection(std::string_view level, bool resumed = false);

    std::string render(const Sampled& sampled) const;
    // Counter values, for tests (0 for labels outside the lists).
    std::uint64_t accepted_count() const { return accepted_.value.load(); }
    std::uint64_t delivery_count(std::string_view status, std::string_view tls) const;
    std::uint64_t tls_resumed_count() const { return tls_resumed_.load(); }

  private:
    using Counter = std::atomic<std::uint64_t>;
    // Bumped by the inbound loop: its own cache line, away from the queue loop's counters.
    struct alignas(64) Padded {
        Counter value{0};
    };
    Padded accepted_;
    alignas(64) std::array<Counter, kDeliveryStatuses.size() * kTlsLabels.size()> deliveries_{};
    std::array<Counter, kDnsTypes.size() * kDnsSecurities.size()> dns_{};
    std::array<Counter, kTlsLabels.size() - 1> tls_{};  // not "none"
    Counter tls_resumed_{0};
    Histogram delivery_seconds_;
};

}  // namespace dr::relay
