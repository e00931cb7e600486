// The inbound SMTP dialogue (SPEC §3; RFC 5321, 3207 STARTTLS, 2920 PIPELINING, 4954 AUTH):
// one coroutine per accepted connection. Entry points: ServerSession::run, MessageSink, refuse().
// Every failure becomes an SMTP reply; the message is accepted (250) only after the sink stored it.
#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "smtp/auth.hpp"
#include "smtp/command.hpp"
#include "smtp/envelope.hpp"
#include "smtp/line_stream.hpp"
#include "smtp/steps.hpp"

namespace dr::smtp {

// What the sink and the access hook know about the client.
struct ClientInfo {
    tcp::endpoint peer;
    std::string helo;    // the EHLO/HELO argument
    bool esmtp = false;  // EHLO, not HELO
    bool tls = false;
    std::string tls_version, tls_cipher;
    std::string auth_user;    // empty: not authenticated
    std::string auth_method;  // "PLAIN" or "LOGIN" when authenticated
    // "SMTP", "ESMTP", "ESMTPS", "ESMTPSA" (RFC 3848) for a Received: header.
    std::string protocol() const;
};

struct SinkResult {
    bool stored = false;
    std::string queue_id;  // shown in "250 2.0.0 Ok: queued as <id>"
};

// One message being received. write() gets the un-stuffed message with CRLF line ends in
// pieces; commit() must return only when the message is durable (SPEC §3).
class MessageWriter {
  public:
    virtual ~MessageWriter() = default;
    virtual awaitable<bool> write(std::string_view chunk) = 0;
    virtual awaitable<SinkResult> commit() = 0;
    virtual void abort() = 0;  // nothing of the message may remain
};

class MessageSink {
  public:
    virtual ~MessageSink() = default;
    // Called at DATA; nullptr means "cannot store now" (452 4.3.1). A coroutine, so that a
    // sink can create its file off the event loop.
    virtual awaitable<std::unique_ptr<MessageWriter>> open(const ClientInfo& client,
                                                           const Envelope& env) = 0;
};

// One AUTH attempt as the client sent it; the credentials are empty when its message was
// malformed (it still gets checked, logged and counted like a wrong password).
struct AuthAttempt {
    std::string mechanism;  // upper case: "PLAIN", "LOGIN"
    Credentials credentials;
};

// Checks a login (SPEC §3). A coroutine, so that the slow crypt(3) runs off the event loop;
// logging a failure and any delay before its reply are the hook's job.
using Authenticate = std::function<awaitable<bool>(const ClientInfo&, const AuthAttempt&)>;

struct ServerOptions {
    std::string hostname = "localhost";
    std::string banner = "ESMTP dane-relay";
    boost::asio::ssl::context* tls = nullptr;  // STARTTLS is offered when set
    // REQUIRETLS (RFC 8689) is offered after STARTTLS when set; over plaintext the MAIL
    // parameter gets "530 5.7.10".
    bool requiretls = true;
    // AUTH PLAIN/LOGIN is offered after STARTTLS when set together with `tls` (SPEC §3);
    // before STARTTLS, AUTH gets "530 5.7.0 Must issue a STARTTLS command first".
    Authenticate authenticate;
    // Failed AUTHs per connection answered "535"; the next failure gets "421 4.7.0" and the
    // connection is closed.
    std::size_t auth_failure_limit = 3;
    // May this client relay without authenticating? (SPEC §3: allowed_clients). Unset:
    // nobody may, so a forgotten hook can never make an open relay.
    std::function<bool(const ClientInfo&)> allowed;
    std::uint64_t max_message_size = 10 * 1024 * 1024;  // SIZE, 552 5.3.4
    std::size_t max_recipients = 1000;                  // 452 4.5.3
    std::size_t max_line = 998;   // octets without CRLF (RFC 5321 §4.5.3.1.4-6)
    std::size_t max_errors = 20;  // then 421 and close
    // NOOP, RSET and VRFY beyond this many (since the last accepted message) count as
    // errors (Postfix's smtpd_junk_command_limit).
    std::size_t junk_limit = 100;
    StepTimeouts timeouts;  // Step::command and Step::data_in
    // SPEC §12: the whole session ends by then ("421 4.4.2 ... timeout exceeded").
    std::chrono::steady_clock::duration session_timeout = std::chrono::hours(1);
};

class ServerSession {
  public:
    ServerSession(tcp::socket socket, MessageSink& sink, const ServerOptions& options);
    // Runs the dialogue until QUIT, an error that closes, or a timeout. `sink` and
    // `options` must outlive it.
    awaitable<void> run();
    // Postfix's command counters for the "disconnect from" log line (SPEC §6), e.g.
    // "ehlo=1 mail=1 rcpt=1/2 data=1 quit=1 commands=5/6": name=ok[/total] per command used.
    std::string command_counts() const;
    const ClientInfo& client() const { return client_; }

  private:
    struct Transaction {
        bool active = false;  // MAIL accepted
        Envelope envelope;
    };

    awaitable<bool> step(std::string line);  // false: close the connection
    awaitable<bool> dispatch(const Command& cmd);
    void reply(std::string_view text) {
        out_ += text, out_ += "\r\n";
        last_code_ = text.empty() ? 0 : text[0] - '0';
    }
    void count(std::size_t index);
    awaitable<bool> flush();
    awaitable<std::optional<std::string>> read_line();
    bool too_many_errors();
    bool junk();                                   // counts a junk command; true: close
    LineStream::Duration budget(Step step) const;  // the step's timeout, cut to deadline_

    awaitable<bool> on_ehlo(const Command& cmd);
    void on_helo(const Command& cmd);
    awaitable<bool> on_starttls();
    awaitable<bool> on_auth(const Command& cmd);
    bool auth_failed();  // counts a failure, queues its reply; false: close
    awaitable<std::optional<std::vector<std::string>>> auth_exchange(
        const std::vector<std::string>& prompts, const std::optional<std::string>& initial);
    void on_mail(const Command& cmd);
    void on_rcpt(const Command& cmd);
    awaitable<bool> on_data();
    awaitable<std::optional<std::string>> receive_data(MessageWriter* writer);

    LineStream stream_;
    MessageSink& sink_;
    const ServerOptions& opt_;
    ClientInfo client_;
    Transaction tx_;
    bool greeted_ = false;
    std::size_t errors_ = 0;
    std::size_t junk_ = 0;
    std::size_t auth_failures_ = 0;  // this connection's, kept across STARTTLS
    std::chrono::steady_clock::time_point deadline_;
    std::string out_;    // replies not yet sent (RFC 2920: flushed when the batch is read)
    int last_code_ = 0;  // first digit of the last reply queued
    std::array<std::pair<unsigned, unsigned>, 15> counts_{};  // ok, total per verb (+ unknown)
};

// Sends "421 4.7.0 <text>" and closes, for connections over a limit (SPEC §3).
awaitable<void> refuse(tcp::socket socket, std::string hostname, std::string text);

}  // namespace dr::smtp
