// Opens an SMTP connection to one address of a planned host with the TLS its
// HostPlan demands (SPEC §5.4-5.5): STARTTLS required or opportunistic, the
// DANE/PKIX set-up before the handshake and the verdict after it, and the
// lines Postfix logs about it, written as they happen (the TLS line at the
// handshake, SPEC §6 "Order and integrity"), resuming a TLS session when options.sessions
// holds one made under the same plan (SPEC §5.6). Entry points: connect_host(),
// tls_feature(). Failures are values: HostConnection::status says why the
// host cannot be used.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dane/policy.hpp"
#include "dane/session_cache.hpp"
#include "dane/verify.hpp"
#include "smtp/client_session.hpp"

namespace dr::relay {

namespace asio = boost::asio;
class Metrics;

// SPEC §12 limits of one attempt; Postfix's smtp_* parameters and defaults.
struct ConnectOptions {
    std::string helo_name = "localhost";
    smtp::StepTimeouts timeouts;
    // Where connection-level lines go the moment they happen ("Verified TLS connection
    // established to …" when the handshake completes). Unset: HostConnection::log.
    std::function<void(const std::string&)> log;
    Metrics* metrics = nullptr;  // counts the TLS lines (SPEC §10); unset: not counted
    // SPEC §5.6: sessions resumed only under the same session_key() (host, address, port,
    // plan, TLSA RRset); its SSL_CTX must be attached. Unset: every handshake is a full one.
    dane::SessionCache* sessions = nullptr;
    smtp::ReplyLimits reply_limits{2048, 100, 64 * 1024};
    std::chrono::milliseconds attempt_timeout{3600'000};  // the whole attempt; 0: none
    std::size_t mx_address_limit = 5;  // addresses tried per attempt; 0: no limit
    std::size_t mx_session_limit = 2;  // sessions past the handshake per attempt; 0: no limit
    // Set by deliver() from attempt_timeout: every step ends by then.
    std::optional<std::chrono::steady_clock::time_point> deadline;
};

struct HostConnection {
    std::unique_ptr<smtp::ClientSession> session;  // ready for send() when status.ok()
    smtp::DeliveryStatus status;
    std::optional<dane::TlsOutcome> tls;  // set when a handshake completed
    std::vector<std::string> log;  // "Verified TLS connection established to …" (no options.log)
    std::string relay;             // "host[addr]:port", as delivery lines name it
    std::string address;
};

smtp::TlsMode tls_mode(dane::TlsRequirement r);

// Postfix 3.11's "tls=" delivery-line field for mail sent over this connection: the host's
// TLS level ("dane", "encrypt", "may", …), with "/none" when the mail went in plaintext
// although the level would have used TLS (not offered, or the handshake failed).
std::string tls_feature(const dane::HostPlan& plan, const HostConnection& c);

asio::awaitable<HostConnection> connect_host(const dane::HostPlan& plan,
                                             const dane::IpAddress& address, std::uint16_t port,
                                             asio::ssl::context& tls,
                                             const ConnectOptions& options);

}  // namespace dr::relay
