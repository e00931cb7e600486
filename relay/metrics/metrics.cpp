// Counters, histogram and the page (see metrics.hpp).
#include "relay/metrics/metrics.hpp"

#include <cmath>

namespace dr::relay {

namespace {

constexpr auto relaxed = std::memory_order_relaxed;

void bump(std::atomic<std::uint64_t>& c) {
    c.fetch_add(1, relaxed);
}

}  // namespace

void Histogram::observe(double seconds) {
    if (!(seconds >= 0)) seconds = 0;  // NaN or a clock stepped back
    std::size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) ++i;
    bump(buckets_[i]);
    sum_us_.fetch_add(static_cast<std::uint64_t>(std::llround(std::min(seconds, 1e12) * 1e6)),
                      relaxed);
}

void Histogram::render(Exposition& page, std::string_view name) const {
    // Appended: "+" on strings gives a false -Wrestrict at -O3 (GCC 12, bug 105329).
    std::string bucket(name), sum(name), count(name);
    bucket += "_bucket";
    sum += "_sum";
    count += "_count";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
        cumulative += buckets_[i].load(relaxed);
        const std::string le = i < kBounds.size() ? format_value(kBounds[i]) : "+Inf";
        page.sample(bucket, {{"le", le}}, cumulative);
    }
    page.sample(sum, {}, static_cast<double>(sum_us_.load(relaxed)) / 1e6);
    // The +Inf bucket as read above, so that count and buckets agree on one page.
    page.sample(count, {}, cumulative);
}

void Metrics::delivery(std::string_view status, std::string_view tls,
                       std::optional<double> final_seconds) {
    auto s = label_index(kDeliveryStatuses, status);
    auto t = label_index(kTlsLabels, tls);
    if (s && t) bump(deliveries_[*s * kTlsLabels.size() + *t]);
    if (final_seconds) delivery_seconds_.observe(*final_seconds);
}

void Metrics::dns_lookup(std::string_view type, std::string_view security) {
    auto t = label_index(kDnsTypes, type);
    auto s = label_index(kDnsSecurities, security);
    if (t && s) bump(dns_[*t * kDnsSecurities.size() + *s]);
}

void Metrics::tls_connection(std::string_view level, bool resumed) {
    auto l = label_index(kTlsLabels, level);
    if (!l || *l >= tls_.size()) return;
    bump(tls_[*l]);
    if (resumed) bump(tls_resumed_);
}

std::uint64_t Metrics::delivery_count(std::string_view status, std::string_view tls) const {
    auto s = label_index(kDeliveryStatuses, status);
    auto t = label_index(kTlsLabels, tls);
    return s && t ? deliveries_[*s * kTlsLabels.size() + *t].load() : 0;
}

std::string Metrics::render(const Sampled& sampled) const {
    Exposition page;
    page.family("dane_relay_messages_accepted_total", "counter",
                "Messages accepted from local clients and committed to the queue.");
    page.sample("dane_relay_messages_accepted_total", {}, accepted_.value.load(relaxed));
    page.family("dane_relay_deliveries_total", "counter",
                "Delivery lines logged, by status and the TLS level of the connection.");
    for (std::size_t s = 0; s < kDeliveryStatuses.size(); ++s)
        for (std::size_t t = 0; t < kTlsLabels.size(); ++t)
            page.sample("dane_relay_deliveries_total",
                        {{"status", kDeliveryStatuses[s]}, {"tls", kTlsLabels[t]}},
                        deliveries_[s * kTlsLabels.size() + t].load(relaxed));
    page.family("dane_relay_dns_lookups_total", "counter",
                "DNS lookups for deliveries, by record type and DNSSEC security.");
    for (std::size_t t = 0; t < kDnsTypes.size(); ++t)
        for (std::size_t s = 0; s < kDnsSecurities.size(); ++s)
            page.sample("dane_relay_dns_lookups_total",
                        {{"type", kDnsTypes[t]}, {"security", kDnsSecurities[s]}},
                        dns_[t * kDnsSecurities.size() + s].load(relaxed));
    page.family("dane_relay_tls_connections_total", "counter",
                "Outbound TLS handshakes completed, by the level logged for them.");
    for (std::size_t l = 0; l < tls_.size(); ++l)
        page.sample("dane_relay_tls_connections_total", {{"level", kTlsLabels[l]}},
                    tls_[l].load(relaxed));
    page.family("dane_relay_tls_sessions_resumed_total", "counter",
                "Outbound TLS handshakes that resumed an earlier session (of the same plan).");
    page.sample("dane_relay_tls_sessions_resumed_total", {}, tls_resumed_.load(relaxed));
    page.family("dane_relay_queue_messages", "gauge", "Messages in the queue.");
    page.sample("dane_relay_queue_messages", {},
                static_cast<std::uint64_t>(sampled.queue_messages));
    page.family("dane_relay_delivery_seconds", "histogram",
                "Seconds from acceptance to a recipient's final status (sent or bounced).");
    delivery_seconds_.render(page, "dane_relay_delivery_seconds");
    if (sampled.process) render_process(page, *sampled.process);
    return page.text();
}

}  // namespace dr::relay
