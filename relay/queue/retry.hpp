// Retry and next state of a recipient (SPEC §4), as pure functions of the attempt's outcome,
// the queue settings and the time: exponential backoff between minimal_backoff and
// maximal_backoff, and a deferral past maximal_queue_lifetime turns into a bounce.
// Entry points: backoff(), next_state(), expired(). No I/O, no clock reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "conf/config.hpp"
#include "relay/spool/types.hpp"

namespace dr::relay {

// Postfix's status= words for one attempt's outcome for one recipient.
enum class RecipientState { sent, deferred, bounced };
const char* to_string(RecipientState s);

// Minimal, doubling per attempt, capped at maximal (attempts counts this one: 1 = first retry).
std::chrono::seconds backoff(const conf::QueueConfig& q, std::uint32_t attempts);

// The durable state after an attempt that ended in `outcome` with `dsn` and `text`.
RcptState next_state(RcptState st, RecipientState outcome, const std::string& dsn,
                     const std::string& text, std::int64_t arrival_us, std::int64_t now_us,
                     const conf::QueueConfig& q);

// True when next_state() turned a deferral into a bounce because the message is too old.
bool expired(RecipientState outcome, const RcptState& next);

}  // namespace dr::relay
