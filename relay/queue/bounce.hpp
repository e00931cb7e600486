// Delivery status notifications (RFC 3464 in an RFC 6522 multipart/report): the bounce and delay
// notices sent to the envelope sender. Entry point: compose_notice(), pure (no I/O), plus its rules
// as small functions. nullopt means "no notice may be sent" (null sender, NOTIFY), not an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/spool/types.hpp"

namespace dr::relay {

// RFC 3464 §2.3.3 actions this relay reports (it never sends "delivered"/"relayed"/"expanded").
enum class DsnAction { failed, delayed };

// One recipient to report on.
struct DsnRecipient {
    std::string address;  // final recipient, without angle brackets
    std::string orcpt;    // Recipient::orcpt, xtext decoded ("rfc822;a+b@x"), or empty
    DsnAction action = DsnAction::failed;
    std::string status;      // RFC 3463 code, "5.1.1"; a malformed one becomes 5.0.0 / 4.0.0
    std::string diagnostic;  // "smtp; 550 5.1.1 No such user", or plain text (gets "X-Postfix; ")
    std::string remote_mta;  // "dns; mx.example.org" or "mx.example.org"; empty when unknown
    std::int64_t last_attempt_us = 0;  // µs since the epoch; 0 = unknown (field left out)
};

struct NoticeInput {
    std::string hostname;      // our name: Reporting-MTA, From: MAILER-DAEMON@hostname
    std::string queue_id;      // the original message's queue ID
    QueuedEnvelope envelope;   // sender, ENVID, RET, recipients (for NOTIFY), arrival time
    std::string_view content;  // the original message, headers + body (CRLF expected)
    std::vector<DsnRecipient> recipients;
    std::int64_t now_us = 0;                  // Date:, Message-ID:, boundary
    std::int64_t retry_until_us = 0;          // delayed recipients: Will-Retry-Until (0 = left out)
    std::size_t full_return_limit = 1 << 20;  // larger messages come back as headers only
};

struct Notice {
    std::string message;     // complete RFC 5322 message, CRLF line ends, lines <= 998 octets
    std::string to;          // envelope recipient of the notice (the original sender)
    bool eightbit = false;   // send with BODY=8BITMIME (RFC 6152)
    bool smtputf8 = false;   // send with SMTPUTF8 (RFC 6531): the To: address is not ASCII
    std::size_t failed = 0;  // recipients reported, by action
    std::size_t delayed = 0;
    bool full_content = false;  // the whole original message was returned (else headers only)
};

// The notice for the recipients that may get one, or nullopt: null sender (RFC 3464 §2 / RFC
// 5321 §4.5.5: never bounce a bounce), or no recipient left after NOTIFY filtering. Delivery uses
// the null reverse-path: MAIL FROM:<> to `Notice::to`.
std::optional<Notice> compose_notice(const NoticeInput& in);

// RFC 3464 fields from a recipient's logged reason: Postfix's "host h[a] said: <reply> (in
// reply to X command)" gives Remote-MTA "dns; h" and Diagnostic-Code "smtp; <reply>"; any
// other reason is our own text: no Remote-MTA, and the reason as it is (it gets "X-Postfix; ").
struct DsnFields {
    std::string remote_mta;
    std::string diagnostic;
};
DsnFields dsn_fields(std::string_view reason);

// --- The rules, exposed for tests -------------------------------------------------------------

// RFC 3461 §4.1. NOTIFY=NEVER: nothing. An explicit list: only the conditions it names.
// Absent NOTIFY: failures are reported, and delays too (Postfix: delay warnings go to recipients
// whose NOTIFY is absent or includes DELAY; whether and when they are sent at all is the
// caller's timer, Postfix's delay_warning_time, default off).
bool notify_allows(std::string_view notify, DsnAction action);

// RFC 3461 §4.3: RET=HDRS returns headers only; RET=FULL or absent the whole message (our
// choice, as Postfix), unless it is larger than `limit`. Delay notices return headers only
// (as Postfix: the sender still has nothing to resend).
bool return_full_content(std::string_view ret, bool any_failed, std::size_t size,
                         std::size_t limit);

// "Mon, 23 Nov 2026 22:18:59 +0000" (RFC 5322 §3.3), UTC.
std::string rfc5322_date(std::int64_t us);

// CRLF everywhere: lone LF and lone CR become CRLF; a non-empty text ends with CRLF.
std::string normalize_crlf(std::string_view s);

// The original message split at the end of its header section (RFC 5322 §2.1): the header
// section ends at the first empty line, or at the first line that is neither a header field
// nor a continuation (then the body starts there, no separator).
struct SplitMessage {
    std::string_view headers;  // header lines, each with its CRLF
    std::string_view body;     // after the separator line (or from the first non-header line)
    bool separator = false;    // an empty line was present
};
SplitMessage split_message(std::string_view crlf_text);

// One header field "Name: value" folded at white space (RFC 5322 §2.2.3) so no line exceeds
// `soft` octets where possible, never more than 998; returned with a final CRLF. Text without
// white space is broken at 998 octets with an inserted space, the only way to keep the limit.
std::string fold_field(std::string_view field, std::size_t soft = 78);

// A boundary that does not occur in any of `parts` (RFC 2046 §5.1.1).
std::string make_boundary(std::string_view queue_id, std::int64_t now_us, std::string_view host,
                          const std::vector<std::string_view>& parts);

}  // namespace dr::relay
