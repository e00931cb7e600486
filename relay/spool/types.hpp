// The spool's vocabulary: the queued envelope, per-recipient delivery state, error codes.
// Entry points: QueuedEnvelope, RcptState, MessageInfo, SpoolErrc. Plain data, no I/O; the SMTP and
// DNS layers fill these in, the spool only stores them (SPEC §4, RFC 3461 DSN fields kept
// verbatim).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "smtp/envelope.hpp"

namespace dr::relay {

// The envelope as queued: the SMTP envelope exactly as the server session parsed it (one type
// from inbound to outbound, smtp/envelope.hpp; DSN values stored decoded) plus the trace of its
// arrival, which the spool keeps for the log, the Received: header and notices.
using Recipient = smtp::Recipient;
struct QueuedEnvelope : smtp::Envelope {
    std::int64_t arrival_us = 0;  // µs since the epoch; the spool stamps it when left at 0
    std::string client_name;      // the SMTP client as Postfix names it ("localhost")
    std::string client_addr;      // its address ("127.0.0.1")
    std::string helo;             // its EHLO/HELO argument
    std::string auth_user;        // SASL login name, empty when not authenticated
    bool operator==(const QueuedEnvelope&) const = default;
};

enum class RcptStatus { pending, delivered, deferred, bounced };

std::string_view to_string(RcptStatus s);

// The latest known state of one recipient. Terminal: delivered, bounced.
struct RcptState {
    RcptStatus status = RcptStatus::pending;
    std::uint32_t attempts = 0;
    std::int64_t next_attempt_us = 0;  // deferred: do not try before this time (µs since epoch)
    std::string dsn;                   // RFC 3463 status of the last attempt ("4.7.5")
    std::string reason;                // last reason, as logged ("Server certificate not verified")
    bool operator==(const RcptState&) const = default;
};

// A state change for recipient number `rcpt` (index into QueuedEnvelope::recipients).
struct StatusUpdate {
    std::size_t rcpt = 0;
    RcptState state;
};

// What the spool knows about a queued message, without its body.
struct MessageInfo {
    std::string id;
    QueuedEnvelope envelope;
    std::vector<RcptState> rcpts;  // parallel to envelope.recipients
    std::uint64_t body_size = 0;
    std::uint64_t file_size = 0;
    bool held = false;
    // The bounce notice (journal record N, written just before the notice's commit): its queue
    // ID, or "none" when the sender gets none. Empty: none made yet. An ID that is not in the
    // queue after a restart means the commit did not happen (the scheduler checks).
    std::string notice;
    // The delay notice (journal record D, written just after the notice's commit): its queue
    // ID, or "none" when the sender gets none (null sender, NOTIFY). Empty: none sent yet.
    std::string delay_notice;
    // True when every recipient is delivered or bounced.
    bool done() const;
    // True when a recipient bounced and its notice is not known to be queued: the message
    // must not be removed before it is (SPEC §4: nothing lost).
    bool notice_owed() const;
};

// Errors the spool reports besides plain errno values (ENOSPC, EIO, … come through as
// std::generic_category codes). Any error from commit() means "not accepted": 452 4.3.1.
enum class SpoolErrc {
    not_found = 1,  // no such queue ID
    corrupt,        // a queue file that does not parse (moved to corrupt/)
    locked,         // another process holds the spool
    bad_recipient,  // a status update names a recipient the message does not have
    low_space,      // free space below the configured reserve
    closed,         // the spool was shut down
    foreign_owner,  // the spool directory belongs to another user than the one running
};

const std::error_category& spool_category();
std::error_code make_error_code(SpoolErrc e);

}  // namespace dr::relay

template <>
struct std::is_error_code_enum<dr::relay::SpoolErrc> : std::true_type {};
