// Queue IDs (SPEC §4): Postfix-style names, uppercase letters and digits, 14 chars, unique across
// restarts. Entry points: QueueIdGenerator::next(), is_valid_queue_id(), QueueKey (an ID in
// 14 bytes, for indexes that hold millions of them). Nothing here fails; the
// spool still refuses to overwrite an existing ID (RENAME_NOREPLACE) as the last line of defence.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace dr::relay {

// Layout: 10 base-36 digits of microseconds since the epoch (fixed width, so IDs sort by arrival
// until the year 2085), then 4 base-36 digits of randomness. Within one process the time part is
// strictly increasing (a clock step backwards reuses last+1), so two IDs from one generator never
// collide; across restarts the random suffix covers a clock that went backwards.
inline constexpr std::size_t kQueueIdTimeDigits = 10;
inline constexpr std::size_t kQueueIdRandomDigits = 4;
inline constexpr std::size_t kQueueIdLength = kQueueIdTimeDigits + kQueueIdRandomDigits;

class QueueIdGenerator {
  public:
    QueueIdGenerator();
    // Thread-safe.
    std::string next();
    // The same, from a given time (µs since the epoch); for tests.
    std::string next_at(std::uint64_t micros);

  private:
    std::mutex mu_;
    std::uint64_t last_micros_ = 0;
    std::mt19937_64 rng_;
};

// True for a string that next() could have produced: exactly kQueueIdLength characters from
// [0-9A-Z]. File names in the queue directory are checked with this before being trusted.
bool is_valid_queue_id(std::string_view id);

// The arrival time encoded in an ID (µs since the epoch); 0 when the ID is not valid.
std::uint64_t queue_id_micros(std::string_view id);

}  // namespace dr::relay

namespace dr::relay {

// A valid queue ID packed into its 14 characters (no heap, no terminator): the key of the
// spool's index and of the scheduler's wait list, which hold one per queued message. Orders
// like the ID, i.e. by arrival.
struct QueueKey {
    std::array<char, kQueueIdLength> chars{};
    // nullopt unless is_valid_queue_id(id).
    static std::optional<QueueKey> from(std::string_view id);
    std::string str() const { return std::string(chars.data(), chars.size()); }
    auto operator<=>(const QueueKey&) const = default;
};

struct QueueKeyHash {
    std::size_t operator()(const QueueKey& k) const noexcept {
        return std::hash<std::string_view>{}(std::string_view(k.chars.data(), k.chars.size()));
    }
};

}  // namespace dr::relay
