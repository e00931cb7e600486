// One delivery attempt for one destination (SPEC §5.5, DESIGN §1): walks the
// planned hosts and their addresses in order, connects with each host's TLS
// plan, sends every message over the first connection that works, and turns
// each recipient into sent / deferred / bounced. Entry point: deliver().
// decide_failure() is the one place that owns the failure policy (DESIGN §3.4).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dane/destination.hpp"
#include "relay/connect.hpp"
#include "smtp/client_session.hpp"

namespace dr::relay {

struct OutboundMessage {
    std::string queue_id;
    smtp::Envelope envelope;  // only the recipients for this destination
    std::string content;      // header and body, not dot-stuffed
};

enum class RecipientState { sent, deferred, bounced };
const char* to_string(RecipientState s);  // Postfix's status= words

struct RecipientResult {
    std::size_t message = 0;    // index into the batch
    std::size_t recipient = 0;  // index into that message's envelope
    RecipientState state = RecipientState::deferred;
    std::string dsn;
    std::string text;            // Postfix's status text, e.g. "250 2.0.0 Ok: queued as X"
    std::string relay = "none";  // "host[addr]:port" or "none"
    std::optional<dane::TlsTrust> tls;
    int conn_use = 1;                                    // messages so far on that connection
    std::chrono::steady_clock::duration setup{};         // Postfix delays "c"
    std::chrono::steady_clock::duration transmission{};  // Postfix delays "d"
};

// What one connection attempt showed (for the JSON evidence log).
struct ConnectionEvidence {
    std::string relay;  // "host[addr]:port"
    smtp::DeliveryStatus status;
    std::optional<dane::TlsOutcome> tls;
};

struct AttemptReport {
    std::vector<RecipientResult> recipients;      // one per recipient of the batch
    std::vector<std::string> log;                 // connection-level lines, Postfix's words
    std::vector<ConnectionEvidence> connections;  // every connection tried, in order
};

// What happens to a recipient after a failure: bounce on a permanent reply,
// keep it for the next host on a temporary one unless this was the last
// host (RFC 5321 §4.5.4.1, Postfix's smtp_trouble.c), then defer.
enum class FailureAction { bounce, next_host, defer };
FailureAction decide_failure(const smtp::DeliveryStatus& status, bool last_host);

// Called after each message's transaction with the results recorded so far
// (`all`) and the index of the first one not yet reported, so the caller can
// make them durable before the next message goes out: SPEC §4 allows a second
// delivery only in the window between the remote 250 and our status write.
using ProgressHook = std::function<asio::awaitable<void>(const std::vector<RecipientResult>& all,
                                                         std::size_t first_new)>;

asio::awaitable<AttemptReport> deliver(const dane::Destination& destination,
                                       const std::vector<OutboundMessage>& batch,
                                       asio::ssl::context& tls, const ConnectOptions& options,
                                       ProgressHook progress = {});

}  // namespace dr::relay
