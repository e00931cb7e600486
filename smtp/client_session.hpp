// The outbound SMTP dialogue (RFC 5321, 3207 STARTTLS, 2920 PIPELINING) with one server address:
// connect, greeting, EHLO/HELO, STARTTLS, EHLO, then MAIL/RCPT/DATA transactions, RSET, QUIT.
// Entry points: ClientSession (open/send/reset/quit) and probe(). Errors are DeliveryStatus values
// with Postfix's texts; exceptions mean bugs (e.g. a TLS mode without a TLS context).
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/delivery_status.hpp"
#include "smtp/ehlo.hpp"
#include "smtp/envelope.hpp"
#include "smtp/line_stream.hpp"
#include "smtp/reply.hpp"
#include "smtp/steps.hpp"

namespace dr::smtp {

// Postfix's smtp_tls_security_level seen from the SMTP layer: "none", "may", and
// every level that must not go on without TLS (encrypt, dane, verify, ...).
enum class TlsMode { none, opportunistic, required };

struct TlsHooks {
    // Runs on the fresh SSL* before the handshake: SNI, SSL_dane_enable, TLSA records.
    // Returning false aborts with 4.7.5 "Cannot start TLS: handshake failure".
    std::function<bool(SSL*)> prepare;
    // Runs after a completed handshake, before anything is sent over TLS. A returned
    // status (e.g. 4.7.5 "Server certificate not verified") closes the connection.
    std::function<std::optional<DeliveryStatus>(SSL*)> verify;
};

struct ClientOptions {
    std::string helo_name = "localhost";
    std::string host_name;  // the peer's name in texts: "<host_name>[<addr>]"; addr if empty
    TlsMode tls = TlsMode::opportunistic;
    boost::asio::ssl::context* tls_context = nullptr;  // needed unless tls == none
    TlsHooks hooks;
    StepTimeouts timeouts;
    // SPEC §12: the whole attempt ends here; every step's time is cut to what is left.
    std::optional<std::chrono::steady_clock::time_point> deadline;
    // Reply caps: Postfix's line_length_limit (2048) per line, a line count and a byte total.
    ReplyLimits reply_limits{2048, 100, 64 * 1024};
    std::optional<boost::asio::ip::address> source_address;  // bind before connect (unset: any)
};

// A message handed to send() in pieces, so that it need not sit in memory at once.
class MessageSource {
  public:
    virtual ~MessageSource() = default;
    // Octets with CRLF line ends, before dot-stuffing: the RFC 1870 SIZE (see crlf_size).
    virtual std::uint64_t size() const = 0;
    // The next piece (CRLF or LF line ends, not dot-stuffed), valid until the next call;
    // an empty piece at the end; nullopt on a read error, which aborts the transaction
    // (4.3.0) by closing the connection before the final ".".
    virtual awaitable<std::optional<std::string_view>> next() = 0;
};

struct TransactionResult {
    DeliveryStatus status;                   // the transaction: ok when end of data got 2xx
    std::vector<DeliveryStatus> recipients;  // one per envelope recipient, in order
    std::chrono::steady_clock::duration transmission{};  // Postfix delays "d"
};

class ClientSession {
  public:
    using Duration = std::chrono::steady_clock::duration;

    ClientSession(boost::asio::any_io_executor ex, ClientOptions options);
    ~ClientSession();

    // TCP connect, greeting, EHLO (HELO fallback), STARTTLS per options.tls, second EHLO.
    // ok: ready for send(). Otherwise the connection is closed. Call it once per session.
    awaitable<DeliveryStatus> open(const tcp::endpoint& peer);
    // One transaction; `message` is header and body with CRLF or LF line ends, not
    // dot-stuffed. DSN parameters are sent only when the server offers DSN.
    awaitable<TransactionResult> send(const Envelope& envelope, std::string_view message);
    // The same for a message read in pieces (e.g. from the spool file).
    awaitable<TransactionResult> send(const Envelope& envelope, MessageSource& message);
    // RSET between transactions on a reused connection.
    awaitable<DeliveryStatus> reset();
    // QUIT, wait for the reply, close. Never fails: the mail is already delivered.
    awaitable<void> quit();
    void close();
    // A new deadline for every later step (a cached connection taken by a new attempt).
    void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline) {
        opt_.deadline = deadline;
    }

    bool usable() const { return usable_; }
    const Reply& greeting() const { return greeting_; }
    const Capabilities& capabilities() const { return caps_; }  // of the latest EHLO
    bool used_helo() const { return used_helo_; }
    bool starttls_offered() const { return starttls_offered_; }
    bool tls_active() const { return stream_.tls(); }
    // With TlsMode::opportunistic: the handshake failed and this is a new plaintext connection.
    bool plaintext_fallback() const { return plaintext_fallback_; }
    SSL* ssl() { return stream_.native_handle(); }
    // Bytes the server sent between its STARTTLS reply and the handshake (discarded).
    std::size_t discarded_before_tls() const { return discarded_; }
    Duration setup_time() const { return setup_time_; }  // Postfix delays "c" (TCP..EHLO)
    // Transactions started on this connection, for Postfix's "conn_use=N" (N > 1: reused).
    std::size_t uses() const { return uses_; }
    std::string peer() const;  // "host[addr]"
    const tcp::endpoint& endpoint() const { return endpoint_; }

  private:
    struct ReplyOr {
        std::optional<Reply> reply;
        DeliveryStatus failure;
    };

    Duration budget(Step step) const;  // the step's timeout, cut to opt_.deadline
    awaitable<ReplyOr> read_reply(Step step);
    awaitable<std::optional<DeliveryStatus>> send_line(std::string line, Step step);
    awaitable<ReplyOr> command(std::string line, Step step);
    awaitable<DeliveryStatus> connect_and_greet();
    awaitable<DeliveryStatus> hello();
    awaitable<DeliveryStatus> start_tls();
    struct Attempt;
    awaitable<void> envelope_pipelined(const Envelope& env, std::uint64_t size, Attempt& a);
    awaitable<void> envelope_stepwise(const Envelope& env, std::uint64_t size, Attempt& a);
    awaitable<void> read_mail_reply(Attempt& a);
    awaitable<void> read_rcpt_reply(std::size_t i, Attempt& a);
    void on_data_reply(const ReplyOr& r, Attempt& a);
    TransactionResult results(const Attempt& a) const;
    awaitable<DeliveryStatus> transmit_body(MessageSource& message);
    DeliveryStatus io_failure(error_code ec, Step step);
    void end_tls_cleanly();
    DeliveryStatus remote_failure(const Reply& reply, std::string_view in_reply_to) const;
    std::string mail_command(const Envelope& env, std::uint64_t size) const;
    std::string rcpt_command(const Recipient& rcpt) const;
    std::optional<DeliveryStatus> precheck(const Envelope& env, std::uint64_t size) const;

    ClientOptions opt_;
    LineStream stream_;
    tcp::endpoint endpoint_;
    Reply greeting_;
    Capabilities caps_;
    bool used_helo_ = false;
    bool starttls_offered_ = false;
    bool usable_ = false;
    bool closing_ = false;  // the server sent 421
    bool handshake_failed_ = false;
    bool plaintext_fallback_ = false;
    std::size_t discarded_ = 0;
    std::size_t uses_ = 0;
    Duration setup_time_{};
};

// A probe for `dane-relay check`: open (with STARTTLS per options), then QUIT.
struct ProbeResult {
    DeliveryStatus status;  // of open(); ok when the dialogue got through EHLO (and TLS)
    Reply greeting;
    Capabilities capabilities;  // after STARTTLS when TLS was established
    bool starttls_offered = false;
    bool tls_established = false;
    std::string tls_version;  // "TLSv1.3"
    std::string tls_cipher;   // "TLS_AES_256_GCM_SHA384"
    std::chrono::steady_clock::duration setup_time{};
};
awaitable<ProbeResult> probe(boost::asio::any_io_executor ex, tcp::endpoint peer,
                             ClientOptions options);

}  // namespace dr::smtp
