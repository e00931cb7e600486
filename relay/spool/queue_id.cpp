// Queue ID generation: time in µs + randomness, base-36 encoded (see queue_id.hpp).
#include "relay/spool/queue_id.hpp"
#include "relay/spool/unix_time.hpp"

#include <algorithm>
#include <chrono>

namespace dr::relay {
namespace {

constexpr char kDigits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

void append_base36(std::string& out, std::uint64_t value, std::size_t width) {
    std::string digits(width, '0');
    for (std::size_t i = width; i > 0 && value != 0; --i) {
        digits[i - 1] = kDigits[value % 36];
        value /= 36;
    }
    out += digits;
}

int base36_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
    return -1;
}

}  // namespace

QueueIdGenerator::QueueIdGenerator() : rng_(std::random_device{}()) {}

std::string QueueIdGenerator::next() {
    return next_at(static_cast<std::uint64_t>(unix_micros()));
}

std::string QueueIdGenerator::next_at(std::uint64_t micros) {
    std::uint64_t stamp = 0;
    std::uint64_t random = 0;
    {
        std::lock_guard lock(mu_);
        stamp = micros > last_micros_ ? micros : last_micros_ + 1;
        last_micros_ = stamp;
        random = rng_();
    }
    std::string id;
    id.reserve(kQueueIdLength);
    append_base36(id, stamp, kQueueIdTimeDigits);
    append_base36(id, random % (36ULL * 36 * 36 * 36), kQueueIdRandomDigits);
    return id;
}

bool is_valid_queue_id(std::string_view id) {
    if (id.size() != kQueueIdLength) return false;
    for (char c : id) {
        if (base36_value(c) < 0) return false;
    }
    return true;
}

std::uint64_t queue_id_micros(std::string_view id) {
    if (!is_valid_queue_id(id)) return 0;
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < kQueueIdTimeDigits; ++i) value = value * 36 + base36_value(id[i]);
    return value;
}

std::optional<QueueKey> QueueKey::from(std::string_view id) {
    if (!is_valid_queue_id(id)) return std::nullopt;
    QueueKey k;
    std::copy(id.begin(), id.end(), k.chars.begin());
    return k;
}

}  // namespace dr::relay
