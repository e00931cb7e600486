// How the scheduler groups and batches due recipients (SPEC §4): by recipient domain (one
// queue per destination), then up to `batch` messages per connection, each message with all
// of its due recipients for that destination, in arrival (FIFO) order; and when another worker
// for a destination may start. Entry points: recipient_domain(), take_batch(),
// may_start_worker(). Pure: no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace dr::relay {

// One recipient (index into its envelope) of a queued message.
struct DueRecipient {
    std::string id;
    std::size_t rcpt = 0;
    bool operator==(const DueRecipient&) const = default;
};

// A message's recipients in one batch.
struct BatchedMessage {
    std::string id;
    std::vector<std::size_t> rcpts;
    bool operator==(const BatchedMessage&) const = default;
};

// The destination key of an address: its domain, lower-cased, without a trailing dot; "" when
// there is no '@'.
std::string recipient_domain(std::string_view address);

// Takes from the front of `due` up to `max_messages` distinct messages with every due recipient
// of theirs (also those further back in `due`), in order of first appearance; what is left stays
// in `due`, in order.
std::vector<BatchedMessage> take_batch(std::vector<DueRecipient>& due, std::size_t max_messages);

struct WorkerLimits {
    std::size_t concurrency = 100;             // deliveries at once, all destinations
    std::size_t destination_concurrency = 20;  // per destination
    std::size_t batch = 50;                    // messages per connection
};

// One more worker for a destination with `queued` due recipients, `running_here` workers of its
// own and `running` in all: only within both limits and when the running ones have more than a
// batch each to do.
bool may_start_worker(std::size_t queued, std::size_t running_here, std::size_t running,
                      const WorkerLimits& limits);

}  // namespace dr::relay
