// How the scheduler groups and batches due recipients (SPEC §4): by recipient domain (one
// queue per destination), then up to `batch` messages per connection, each message with all
// of its due recipients for that destination, in arrival (FIFO) order; and when another worker
// for a destination may start. Entry points: recipient_domain(), take_batch() and DueQueue (the
// same batching, each event O(1) amortized), may_start_worker(), and which destinations get the
// free slots, fairly (choose_starts). Pure: no I/O.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
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

// What a message asks of TLS (RFC 8689): the destination's policy, REQUIRETLS, or
// "TLS-Required: No" (honoured). Each is its own queue, so batches never mix them.
enum class TlsAsk { policy, requiretls, optional };

// The scheduler's queue of a destination domain for messages asking `ask`: the domain
// itself for `policy`; and back.
std::string queue_key(std::string_view domain, TlsAsk ask);
std::pair<std::string, TlsAsk> split_queue_key(std::string_view key);

// Takes from the front of `due` up to `max_messages` distinct messages with every due recipient
// of theirs (also those further back in `due`), in order of first appearance; what is left stays
// in `due`, in order.
std::vector<BatchedMessage> take_batch(std::vector<DueRecipient>& due, std::size_t max_messages);

// One destination's due recipients, batched as take_batch() batches a vector (FIFO by each
// message's first due recipient; a message with all of its due recipients; no duplicates), but
// add() costs O(1) amortized and take() O(what it takes), whatever the queue's length.
class DueQueue {
  public:
    // False when the recipient is already queued here.
    bool add(const std::string& id, std::size_t rcpt);
    std::vector<BatchedMessage> take(std::size_t max_messages);
    std::size_t recipients() const { return recipients_; }
    bool empty() const { return recipients_ == 0; }

  private:
    std::deque<std::string> order_;                                  // messages, FIFO
    std::unordered_map<std::string, std::vector<std::size_t>> due_;  // id -> its recipients
    std::size_t recipients_ = 0;
};

struct WorkerLimits {
    std::size_t concurrency = 100;             // deliveries at once, all destinations
    std::size_t destination_concurrency = 20;  // per destination
    std::size_t batch = 50;                    // messages per connection
    std::size_t slow_concurrency = 25;         // slots all slow destinations may hold (SPEC §12)
};

// One more worker for a destination with `queued` due recipients, `running_here` workers of its
// own and `running` in all: only within both limits and when the running ones have more than a
// batch each to do.
bool may_start_worker(std::size_t queued, std::size_t running_here, std::size_t running,
                      const WorkerLimits& limits);

// How a destination's last attempt went (SPEC §12): fast, not tried lately, or slow (it took
// slow_attempt_time or more: timeouts, tarpits, dripping servers).
enum class Pace { fast, unknown, slow };

// One destination as the scheduler sees it when handing out slots.
struct DestinationLoad {
    std::size_t queued = 0;   // due recipients
    std::size_t running = 0;  // its workers
    Pace pace = Pace::unknown;
};

// Which destinations get a new worker now, in order (an index may repeat). Fair (SPEC §12):
// round by round, every destination with fewer than r+1 workers gets its (r+1)th before any
// gets more; within a round fast destinations come first, then unknown ones, then slow ones,
// each starting at `first` and wrapping, so a crowd of tarpits ahead in the list cannot starve
// a destination that works; slow destinations together stay within slow_concurrency
// (`running_slow` is what they hold now).
std::vector<std::size_t> choose_starts(const std::vector<DestinationLoad>& dests, std::size_t first,
                                       std::size_t running, std::size_t running_slow,
                                       const WorkerLimits& limits);

}  // namespace dr::relay
