// One delivery attempt for one destination (SPEC §5.5, DESIGN §1): walks the
// planned hosts and their addresses in order, connects with each host's TLS
// plan, sends every message over the first connection that works (within the attempt's
// deadline, address and session limits of SPEC §12), and turns
// each recipient into sent / deferred / bounced. Entry point: deliver(). The failure
// policy it applies is relay/queue/trouble.hpp, shared with `dane-relay check`.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dane/destination.hpp"
#include "relay/queue/conn_cache.hpp"
#include "relay/queue/connect.hpp"
#include "relay/queue/retry.hpp"
#include "smtp/client_session.hpp"

namespace dr::relay {

// The envelope `env` with only the recipients at `indexes` (in that order).
smtp::Envelope with_recipients(const smtp::Envelope& env, const std::vector<std::size_t>& indexes);

struct OutboundMessage {
    std::string queue_id;
    smtp::Envelope envelope;  // only the recipients for this destination
    std::string content;      // header and body, not dot-stuffed (when source is unset)
    // Or the content read in pieces: a fresh source for each transaction (e.g. the spool file).
    std::function<std::unique_ptr<smtp::MessageSource>()> source;
};

struct RecipientResult {
    std::size_t message = 0;    // index into the batch
    std::size_t recipient = 0;  // index into that message's envelope
    RecipientState state = RecipientState::deferred;
    std::string dsn;
    std::string text;            // Postfix's status text, e.g. "250 2.0.0 Ok: queued as X"
    std::string relay = "none";  // "host[addr]:port" or "none"
    std::optional<dane::TlsTrust> tls;
    std::string tls_feature;  // Postfix 3.11's "tls=" field: "dane", "may/none", "dane?", …
    int conn_use = 1;         // messages so far on that connection
    std::chrono::steady_clock::duration setup{};         // Postfix delays "c"
    std::chrono::steady_clock::duration transmission{};  // Postfix delays "d"
};

// What one connection attempt showed (for the JSON evidence log and TLSRPT).
struct ConnectionEvidence {
    std::string relay;  // "host[addr]:port"
    smtp::DeliveryStatus status;
    std::optional<dane::TlsOutcome> tls;
    std::string host;  // the MX host (its HostPlan's name) and the address
    std::string address;
    bool starttls_offered = false;
};

struct AttemptReport {
    std::vector<RecipientResult> recipients;  // one per recipient of the batch
    std::vector<std::string> log;  // connection-level lines, Postfix's words (no options.log)
    std::vector<ConnectionEvidence> connections;  // every connection tried, in order
};

// Called after each message's transaction with the results recorded so far
// (`all`) and the index of the first one not yet reported, so the caller can
// make them durable before the next message goes out: SPEC §4 allows a second
// delivery only in the window between the remote 250 and our status write.
using ProgressHook = std::function<asio::awaitable<void>(const std::vector<RecipientResult>& all,
                                                         std::size_t first_new)>;

// One (host, address) pair to try.
struct Candidate {
    const dane::HostPlan* plan;
    dane::IpAddress address;
};

// Every (host, address) pair to try, in order, at most `address_limit` (0: all; Postfix's
// smtp_mx_address_limit); hosts the plan rules out contribute only their failure.
std::vector<Candidate> candidates(const dane::Destination& d, std::size_t address_limit);

// The attempt's options with its deadline set from attempt_timeout, counted from `now`.
ConnectOptions with_deadline(ConnectOptions options, std::chrono::steady_clock::time_point now);

asio::awaitable<AttemptReport> deliver(const dane::Destination& destination,
                                       const std::vector<OutboundMessage>& batch,
                                       asio::ssl::context& tls, const ConnectOptions& options,
                                       ProgressHook progress = {},
                                       ConnectionCache* cache = nullptr);

}  // namespace dr::relay
