#include "smtp/server_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "smtp/auth.hpp"
#include "smtp/base64.hpp"
#include "smtp/data_reader.hpp"

namespace dr::smtp {

namespace {

bool smuggling(DataError e) {
    return e == DataError::bare_lf || e == DataError::bare_cr || e == DataError::nul;
}

}  // namespace

std::string ClientInfo::protocol() const {
    if (!esmtp) return "SMTP";
    return std::string("ESMTP") + (tls ? "S" : "") + (auth_user.empty() ? "" : "A");
}

ServerSession::ServerSession(tcp::socket socket, MessageSink& sink, const ServerOptions& options)
    : stream_(std::move(socket)),
      sink_(sink),
      opt_(options),
      deadline_(std::chrono::steady_clock::now() + options.session_timeout) {
    error_code ec;
    client_.peer = stream_.socket().remote_endpoint(ec);
}

awaitable<void> ServerSession::run() {
    reply("220 " + opt_.hostname + " " + opt_.banner);
    for (;;) {
        auto line = co_await read_line();
        if (!line) break;
        bool go_on = co_await step(std::move(*line));
        if (!go_on) break;
    }
    co_await flush();
    stream_.close();
}

awaitable<bool> ServerSession::flush() {
    if (out_.empty()) co_return true;
    std::string data;
    data.swap(out_);
    // A last reply (421 at the deadline) still gets a second to go out.
    error_code ec = co_await stream_.write(
        data, std::max<LineStream::Duration>(budget(Step::command), std::chrono::seconds(1)));
    co_return !ec;
}

LineStream::Duration ServerSession::budget(Step step) const {
    return bounded(opt_.timeouts.get(step), deadline_, std::chrono::steady_clock::now());
}

// Postfix's smtpd_junk_command_limit: past it, every NOOP, RSET or VRFY is an error too.
bool ServerSession::junk() {
    return ++junk_ > opt_.junk_limit && too_many_errors();
}

bool ServerSession::too_many_errors() {
    if (++errors_ <= opt_.max_errors) return false;
    reply("421 4.7.0 " + opt_.hostname + " Error: too many errors");
    return true;
}

awaitable<std::optional<std::string>> ServerSession::read_line() {
    std::string line;
    for (;;) {
        // RFC 2920 §3.2: replies wait until the client's batch is consumed, then go in one
        // write; a client that pipelines without reading cannot make them pile up unbounded.
        if (!stream_.has_buffered() || out_.size() > 16384) {
            bool sent = co_await flush();
            if (!sent) co_return std::nullopt;
        }
        error_code ec = co_await stream_.read_line(line, budget(Step::command), opt_.max_line);
        if (ec == boost::asio::error::timed_out) {
            reply("421 4.4.2 " + opt_.hostname + " Error: timeout exceeded");
            co_return std::nullopt;
        }
        if (ec == boost::asio::error::message_size) {
            reply("500 5.5.2 Error: line too long");
            if (too_many_errors()) co_return std::nullopt;
            continue;
        }
        if (ec) co_return std::nullopt;
        // SPEC §3: a command ended by a bare LF is refused (SMTP smuggling).
        if (stream_.last_line_bare_lf()) {
            reply("550 5.5.2 Error: bare <LF> received");
            if (too_many_errors()) co_return std::nullopt;
            continue;
        }
        co_return line;
    }
}

// Postfix's order and names in "disconnect from ..." (smtpd.c); the last one is "unknown".
constexpr std::array<std::string_view, 15> kCountNames = {
    "helo", "ehlo", "mail", "rcpt", "data",     "bdat", "rset",   "noop",
    "quit", "vrfy", "expn", "help", "starttls", "auth", "unknown"};

std::string ServerSession::command_counts() const {
    // Printed in Postfix's order, which differs from the Verb enum's.
    constexpr std::array<std::size_t, 15> order = {0, 1, 12, 13, 2,  3, 4, 5,
                                                   6, 7, 9,  10, 11, 8, 14};
    std::string out;
    unsigned ok = 0, total = 0;
    for (std::size_t i : order) {
        auto [good, all] = counts_[i];
        if (all == 0) continue;
        out += std::string(kCountNames[i]) + "=" + std::to_string(good);
        if (good != all) {
            // Appended: "..." + std::string gives a false -Wrestrict at -O3 (GCC 12, bug 105329).
            out += '/';
            out += std::to_string(all);
        }
        out += " ";
        ok += good;
        total += all;
    }
    out += "commands=" + std::to_string(ok);
    if (ok != total) out += "/" + std::to_string(total);
    return out;
}

void ServerSession::count(std::size_t index) {
    ++counts_[index].second;
    if (last_code_ == 2 || last_code_ == 3) ++counts_[index].first;
}

awaitable<bool> ServerSession::step(std::string line) {
    auto parsed = parse_command(line);
    if (!parsed.command) {
        reply(parsed.error.reply());
        // A known verb with bad arguments counts under its own name, as in Postfix.
        auto verb = verb_of(line);
        count(verb ? static_cast<std::size_t>(*verb) : counts_.size() - 1);
        co_return !too_many_errors();
    }
    const Command& cmd = *parsed.command;
    bool go_on = co_await dispatch(cmd);
    count(static_cast<std::size_t>(cmd.verb));
    co_return go_on;
}

awaitable<bool> ServerSession::dispatch(const Command& cmd) {
    switch (cmd.verb) {
        case Verb::ehlo:
            co_return co_await on_ehlo(cmd);
        case Verb::helo:
            on_helo(cmd);
            break;
        case Verb::starttls:
            co_return co_await on_starttls();
        case Verb::auth:
            co_return co_await on_auth(cmd);
        case Verb::mail:
            on_mail(cmd);
            break;
        case Verb::rcpt:
            on_rcpt(cmd);
            break;
        case Verb::data:
            co_return co_await on_data();
        case Verb::rset:
            tx_ = Transaction{};
            reply("250 2.0.0 Ok");
            co_return !junk();
        case Verb::noop:
            reply("250 2.0.0 Ok");
            co_return !junk();
        case Verb::quit:
            reply("221 2.0.0 Bye");
            co_return false;
        // RFC 5321 §3.5.3: 252 when the server will not verify but accepts mail.
        case Verb::vrfy:
            reply("252 2.0.0 Cannot VRFY user, but will accept message");
            co_return !junk();
        case Verb::help:
            reply("214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP");
            break;
        case Verb::expn:
        case Verb::bdat:
            reply("502 5.5.1 Error: command not implemented");
            co_return !too_many_errors();
    }
    co_return true;
}

awaitable<bool> ServerSession::on_ehlo(const Command& cmd) {
    client_.helo = cmd.argument;
    client_.esmtp = true;
    greeted_ = true;
    tx_ = Transaction{};
    std::vector<std::string> ext = {"PIPELINING",
                                    "SIZE " + std::to_string(opt_.max_message_size),
                                    "8BITMIME",
                                    "SMTPUTF8",
                                    "ENHANCEDSTATUSCODES",
                                    "DSN"};
    if (opt_.tls && !stream_.tls()) ext.push_back("STARTTLS");
    if (opt_.requiretls && stream_.tls()) ext.push_back("REQUIRETLS");  // RFC 8689 §3
    // SPEC §3: AUTH only after STARTTLS, so passwords never travel in clear text.
    if (opt_.authenticate && stream_.tls() && client_.auth_user.empty())
        ext.push_back("AUTH PLAIN LOGIN");
    reply("250-" + opt_.hostname);
    for (std::size_t i = 0; i < ext.size(); ++i)
        reply((i + 1 < ext.size() ? "250-" : "250 ") + ext[i]);
    co_return true;
}

void ServerSession::on_helo(const Command& cmd) {
    client_.helo = cmd.argument;
    client_.esmtp = false;
    greeted_ = true;
    tx_ = Transaction{};
    reply("250 " + opt_.hostname);
}

awaitable<bool> ServerSession::on_starttls() {
    if (!opt_.tls) {
        reply("502 5.5.1 Error: command not implemented");
        co_return !too_many_errors();
    }
    if (stream_.tls()) {
        reply("554 5.5.1 Error: TLS already active");
        co_return !too_many_errors();
    }
    reply("220 2.0.0 Ready to start TLS");
    bool sent = co_await flush();
    if (!sent) co_return false;
    // Commands pipelined behind STARTTLS arrived in clear text: handshake_server drops
    // them (RFC 3207 §5, CVE-2011-0411).
    error_code ec = co_await stream_.handshake_server(*opt_.tls, budget(Step::command));
    if (ec) co_return false;
    // RFC 3207 §4.2: forget everything learned before TLS.
    ClientInfo fresh;
    fresh.peer = client_.peer;
    fresh.tls = true;
    fresh.tls_version = SSL_get_version(stream_.native_handle());
    if (const SSL_CIPHER* c = SSL_get_current_cipher(stream_.native_handle()))
        fresh.tls_cipher = SSL_CIPHER_get_name(c);
    client_ = fresh;
    greeted_ = false;
    tx_ = Transaction{};
    co_return true;
}

awaitable<bool> ServerSession::on_auth(const Command& cmd) {
    auto refuse_with = [&](std::string text) {
        reply(text);
        return !too_many_errors();
    };
    if (!opt_.authenticate || !opt_.tls)
        co_return refuse_with("503 5.5.1 Error: authentication not enabled");
    // SPEC §3: passwords never travel in clear text (Postfix's wording).
    if (!stream_.tls()) co_return refuse_with("530 5.7.0 Must issue a STARTTLS command first");
    if (!greeted_ || !client_.esmtp) co_return refuse_with("503 5.5.1 Error: send EHLO first");
    if (!client_.auth_user.empty()) co_return refuse_with("503 5.5.1 Error: already authenticated");
    if (tx_.active) co_return refuse_with("503 5.5.1 Error: MAIL transaction in progress");
    std::string_view arg = cmd.argument;
    auto space = arg.find(' ');
    AuthAttempt attempt;
    attempt.mechanism = std::string(arg.substr(0, space));
    for (auto& ch : attempt.mechanism)
        if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    auto prompts = auth_prompts(attempt.mechanism);
    if (!prompts) co_return refuse_with("504 5.5.4 Error: unsupported authentication mechanism");
    std::optional<std::string> initial;
    if (space != std::string_view::npos) initial = std::string(arg.substr(space + 1));
    auto answers = co_await auth_exchange(*prompts, initial);
    if (!answers) co_return false;                       // connection lost
    if (answers->empty()) co_return !too_many_errors();  // refused; reply queued
    std::optional<Credentials> creds;
    if (prompts->size() == 1)
        creds = parse_auth_plain((*answers)[0]);
    else if (!(*answers)[0].empty())
        creds = Credentials{(*answers)[0], (*answers)[1]};
    if (creds) attempt.credentials = std::move(*creds);
    // A malformed message is checked too (an empty user never matches): same cost, same log.
    bool ok = co_await opt_.authenticate(client_, attempt);
    if (!ok) co_return auth_failed();
    client_.auth_user = attempt.credentials.user;
    client_.auth_method = attempt.mechanism;
    reply("235 2.7.0 Authentication successful");
    co_return true;
}

// Postfix's 535 text (smtpd_sasl_glue.c, with Cyrus SASL's reason); past the limit, 421.
bool ServerSession::auth_failed() {
    if (++auth_failures_ > opt_.auth_failure_limit) {
        reply("421 4.7.0 " + opt_.hostname + " Error: too many failed authentications");
        return false;
    }
    reply("535 5.7.8 Error: authentication failed: authentication failure");
    return !too_many_errors();
}

// The SASL exchange (RFC 4954 §4): one decoded answer per prompt, the first possibly from
// the initial response. Empty result: refused (reply queued); nullopt: connection lost.
awaitable<std::optional<std::vector<std::string>>> ServerSession::auth_exchange(
    const std::vector<std::string>& prompts, const std::optional<std::string>& initial) {
    std::vector<std::string> answers;
    for (std::size_t i = 0; i < prompts.size(); ++i) {
        std::string response;
        if (i == 0 && initial) {
            response = *initial == "=" ? "" : *initial;  // RFC 4954 §4: "=" is empty
        } else {
            reply("334 " + prompts[i]);
            auto line = co_await read_line();
            if (!line) co_return std::nullopt;
            response = *line;
        }
        if (response == "*") {
            reply("501 5.7.0 Authentication aborted");
            co_return std::vector<std::string>{};
        }
        auto decoded = base64_decode(response);
        if (!decoded) {
            reply("501 5.5.2 Error: cannot decode response");
            co_return std::vector<std::string>{};
        }
        answers.push_back(std::move(*decoded));
    }
    co_return answers;
}

void ServerSession::on_mail(const Command& cmd) {
    auto refuse_with = [&](std::string text) {
        reply(text);
        (void)too_many_errors();
    };
    if (!greeted_) return refuse_with("503 5.5.1 Error: send HELO/EHLO first");
    if (tx_.active) return refuse_with("503 5.5.1 Error: nested MAIL command");
    // RFC 1870 §6.1: refuse at MAIL what would be too big anyway.
    if (cmd.mail.size && *cmd.mail.size > opt_.max_message_size)
        return reply("552 5.3.4 Message size exceeds fixed limit");
    if (cmd.mail.requiretls && !opt_.requiretls)
        return refuse_with("555 5.5.4 Unsupported option: REQUIRETLS");
    if (cmd.mail.requiretls && !stream_.tls())  // RFC 8689 §3: offered over TLS only
        return refuse_with("530 5.7.10 REQUIRETLS needs a TLS session: issue STARTTLS first");
    tx_ = Transaction{};
    tx_.active = true;
    Envelope& e = tx_.envelope;
    e.sender = cmd.path.address;
    e.body = cmd.mail.body;
    e.smtputf8 = cmd.mail.smtputf8;
    e.ret = cmd.mail.ret;
    e.envid = cmd.mail.envid;
    e.size = cmd.mail.size;
    // RFC 8689 §4.2.1: the requirements are for messages with a return path, not bounces.
    e.requiretls = cmd.mail.requiretls && !e.sender.empty();
    reply("250 2.1.0 Ok");
}

void ServerSession::on_rcpt(const Command& cmd) {
    if (!tx_.active) {
        reply("503 5.5.1 Error: need MAIL command");
        (void)too_many_errors();
        return;
    }
    // RFC 6531 §3.4: UTF-8 recipients only in an SMTPUTF8 transaction.
    if (cmd.path.utf8 && !tx_.envelope.smtputf8)
        return reply("553 5.6.7 Must declare SMTPUTF8 to send unicode address");
    if (tx_.envelope.recipients.size() >= opt_.max_recipients)
        return reply("452 4.5.3 Error: too many recipients");
    // SPEC §3: never an open relay; only allowed or authenticated clients get through.
    if (client_.auth_user.empty() && !(opt_.allowed && opt_.allowed(client_)))
        return reply("554 5.7.1 <" + cmd.path.address + ">: Relay access denied");
    tx_.envelope.recipients.push_back({cmd.path.address, cmd.rcpt.notify, cmd.rcpt.orcpt});
    reply("250 2.1.5 Ok");
}

// Reads the message into `writer`; returns the reply to send, or nullopt when the
// connection must close (timeout, lost connection, smuggling attempt; reply queued).
awaitable<std::optional<std::string>> ServerSession::receive_data(MessageWriter* writer) {
    DataReader reader(DataLimits{opt_.max_line, opt_.max_message_size});
    std::string chunk;
    bool stored = true;
    while (!reader.done()) {
        if (!stream_.has_buffered()) {
            error_code ec = co_await stream_.fill(budget(Step::data_in));
            if (ec == boost::asio::error::timed_out)
                reply("421 4.4.2 " + opt_.hostname + " Error: timeout exceeded");
            if (ec) co_return std::nullopt;
        }
        chunk.clear();
        stream_.consume(reader.feed(stream_.buffered(), chunk));
        if (reader.error() && smuggling(*reader.error())) {
            // SPEC §3: bare CR/LF in DATA is refused, and nothing after it is trusted.
            reply("550 5.5.2 Error: " + std::string(to_string(*reader.error())));
            co_return std::nullopt;
        }
        if (!chunk.empty() && stored && !reader.error()) stored = co_await writer->write(chunk);
    }
    if (reader.error() == DataError::too_big) co_return "552 5.3.4 Error: message file too big";
    if (reader.error() == DataError::line_too_long) co_return "500 5.5.2 Error: line too long";
    if (!stored) co_return "452 4.3.1 Insufficient system storage";
    co_return "";
}

awaitable<bool> ServerSession::on_data() {
    if (!tx_.active) {
        reply("503 5.5.1 Error: need MAIL command");
        co_return !too_many_errors();
    }
    if (tx_.envelope.recipients.empty()) {
        reply("554 5.5.1 Error: no valid recipients");
        co_return !too_many_errors();
    }
    auto writer = co_await sink_.open(client_, tx_.envelope);
    if (!writer) {
        reply("452 4.3.1 Insufficient system storage");
        co_return true;
    }
    reply("354 End data with <CR><LF>.<CR><LF>");
    bool sent = co_await flush();
    if (!sent) {
        writer->abort();
        co_return false;
    }
    auto outcome = co_await receive_data(writer.get());
    tx_ = Transaction{};
    if (!outcome) {
        writer->abort();
        co_return false;
    }
    if (!outcome->empty()) {
        writer->abort();
        reply(*outcome);
        co_return true;
    }
    SinkResult result = co_await writer->commit();
    if (!result.stored) {
        writer->abort();
        reply("452 4.3.1 Insufficient system storage");
    } else {
        reply("250 2.0.0 Ok: queued as " + result.queue_id);
        junk_ = 0;  // a client that delivers is not wasting our time
    }
    co_return true;
}

awaitable<void> refuse(tcp::socket socket, std::string hostname, std::string text) {
    LineStream stream(std::move(socket));
    co_await stream.write("421 4.7.0 " + hostname + " " + text + "\r\n", std::chrono::seconds(10));
    stream.close();
}

}  // namespace dr::smtp
