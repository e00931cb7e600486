#include "smtp/client_session.hpp"

#include <boost/asio/error.hpp>
#include <stdexcept>

#include "smtp/dot_stuff.hpp"
#include "smtp/peer_name.hpp"

namespace dr::smtp {

namespace {

using Clock = std::chrono::steady_clock;

// What of a remote reply is kept in statuses (journal, log, notices): a hostile server's
// 200 KiB reply must not be copied into each of them (SPEC §12).
constexpr std::size_t kKeptReply = 1000;
// Message data goes out in pieces of this much input, each with the body timeout.
constexpr std::size_t kBodyChunk = 64 * 1024;

}  // namespace

ClientSession::ClientSession(boost::asio::any_io_executor ex, ClientOptions options)
    : opt_(std::move(options)), stream_(ex) {
    if (opt_.tls != TlsMode::none && opt_.tls_context == nullptr)
        throw std::invalid_argument("ClientSession: a TLS mode needs a TLS context");
}

// Dropped while still usable (no error, no 421: e.g. a parked connection past its idle
// time): as clean an end as an answered QUIT, so the TLS session stays resumable.
ClientSession::~ClientSession() {
    if (usable_ && tls_active()) end_tls_cleanly();
}

std::string ClientSession::peer() const {
    std::string addr = endpoint_.address().to_string();
    return peer_name(opt_.host_name.empty() ? addr : opt_.host_name, addr);
}

// The dialogue ended as agreed (QUIT answered, or dropped while usable): OpenSSL would
// otherwise mark the TLS session of an SSL freed without a shutdown as not resumable (SPEC
// §5.6 resumes it). Quiet, as before: no close_notify is sent; the server closes after its
// 221. A connection that ends in an error keeps OpenSSL's rule.
void ClientSession::end_tls_cleanly() {
    if (SSL* s = ssl()) SSL_set_shutdown(s, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
}

void ClientSession::close() {
    usable_ = false;
    stream_.close();
}

DeliveryStatus ClientSession::io_failure(error_code ec, Step step) {
    close();
    if (ec == boost::asio::error::timed_out)
        return DeliveryStatus::temp("4.4.2", "conversation with " + peer() + " timed out while " +
                                                 std::string(label(step)));
    return DeliveryStatus::temp(
        "4.4.2", "lost connection with " + peer() + " while " + std::string(label(step)));
}

// Postfix's text for a negative reply: "host h[a] said: 550 5.1.1 ... (in reply to RCPT TO
// command)".
DeliveryStatus ClientSession::remote_failure(const Reply& reply,
                                             std::string_view in_reply_to) const {
    DeliveryStatus st;
    st.kind = reply.permanent() ? DeliveryStatus::Kind::permanent : DeliveryStatus::Kind::temporary;
    st.dsn = reply.status();
    if (reply.kind() == 2 || reply.kind() == 3) st.dsn = "5.5.0";  // unexpected success code
    st.remote_reply = reply.text();
    if (st.remote_reply.size() > kKeptReply) {
        st.remote_reply.resize(kKeptReply);
        st.remote_reply += "...";
    }
    st.reason = "host " + peer() + " said: " + st.remote_reply + " (in reply to " +
                std::string(in_reply_to) + " command)";
    return st;
}

ClientSession::Duration ClientSession::budget(Step step) const {
    return bounded(opt_.timeouts.get(step), opt_.deadline, Clock::now());
}

awaitable<ClientSession::ReplyOr> ClientSession::read_reply(Step step) {
    ReplyParser parser(opt_.reply_limits);
    std::string line;
    // SPEC §12: the step's time bounds the whole reply, however slowly its lines drip in.
    const auto deadline = Clock::now() + budget(step);
    for (;;) {
        auto left = std::max(deadline - Clock::now(), Duration::zero());
        error_code ec = co_await stream_.read_line(line, left, opt_.reply_limits.max_line_length);
        // As Postfix's smtp_get() with SMTP_GET_FLAG_SKIP: an over-long line is cut at the
        // limit and the rest of it skipped; the reply's total size cap still applies.
        if (ec == boost::asio::error::message_size) ec = {};
        if (ec) co_return ReplyOr{std::nullopt, io_failure(ec, step)};
        if (auto err = parser.feed(line)) {
            close();
            co_return ReplyOr{std::nullopt, DeliveryStatus::temp(
                                                "4.5.0", "protocol error with " + peer() +
                                                             " while " + std::string(label(step)) +
                                                             ": " + std::string(to_string(*err)))};
        }
        if (parser.done()) {
            Reply r = parser.take();
            // RFC 5321 §3.8: 421 means the server is closing the channel.
            if (r.code == 421) closing_ = true;
            co_return ReplyOr{std::move(r), {}};
        }
    }
}

awaitable<std::optional<DeliveryStatus>> ClientSession::send_line(std::string line, Step step) {
    line += "\r\n";
    error_code ec = co_await stream_.write(line, budget(step));
    if (ec) co_return io_failure(ec, step);
    co_return std::nullopt;
}

awaitable<ClientSession::ReplyOr> ClientSession::command(std::string line, Step step) {
    auto failed = co_await send_line(std::move(line), step);
    if (failed) co_return ReplyOr{std::nullopt, *failed};
    co_return co_await read_reply(step);
}

awaitable<DeliveryStatus> ClientSession::open(const tcp::endpoint& peer_ep) {
    auto start = Clock::now();
    endpoint_ = peer_ep;
    DeliveryStatus st = co_await connect_and_greet();
    if (st.ok()) st = co_await start_tls();
    // Postfix with "may": a failed handshake is retried without TLS on a new connection
    // (the old one is unusable). Never for "required": that is the point of DANE.
    if (!st.ok() && handshake_failed_ && opt_.tls == TlsMode::opportunistic) {
        stream_.reset();
        plaintext_fallback_ = true;
        st = co_await connect_and_greet();
    }
    if (!st.ok()) co_return st;
    setup_time_ = Clock::now() - start;
    usable_ = true;
    co_return DeliveryStatus::success("connected to " + peer());
}

awaitable<DeliveryStatus> ClientSession::connect_and_greet() {
    error_code ec = co_await stream_.connect(endpoint_, budget(Step::connect), opt_.source_address);
    if (ec) {
        usable_ = false;
        std::string what =
            ec == boost::asio::error::timed_out ? "Connection timed out" : ec.message();
        co_return DeliveryStatus::temp(
            "4.4.1", "connect to " + peer() + ":" + std::to_string(endpoint_.port()) + ": " + what);
    }
    auto g = co_await read_reply(Step::greeting);
    if (!g.reply) co_return g.failure;
    greeting_ = *g.reply;
    if (greeting_.code != 220) {
        DeliveryStatus st = remote_failure(greeting_, "initial greeting");
        st.reason = "host " + peer() + " refused to talk to me: " + st.remote_reply;
        close();
        co_return st;
    }
    co_return co_await hello();
}

// RFC 5321 §3.2: EHLO first; a server that rejects it permanently gets HELO.
awaitable<DeliveryStatus> ClientSession::hello() {
    auto r = co_await command("EHLO " + opt_.helo_name, Step::ehlo);
    if (!r.reply) co_return r.failure;
    if (r.reply->code == 250) {
        caps_ = parse_ehlo(*r.reply);
        used_helo_ = false;
        co_return DeliveryStatus::success(r.reply->text());
    }
    if (!r.reply->permanent() || stream_.tls()) {
        close();
        co_return remote_failure(*r.reply, "EHLO");
    }
    r = co_await command("HELO " + opt_.helo_name, Step::helo);
    if (!r.reply) co_return r.failure;
    if (r.reply->code != 250) {
        close();
        co_return remote_failure(*r.reply, "HELO");
    }
    caps_ = Capabilities{};
    caps_.greeting = r.reply->lines.front();
    used_helo_ = true;
    co_return DeliveryStatus::success(r.reply->text());
}

awaitable<DeliveryStatus> ClientSession::start_tls() {
    starttls_offered_ = caps_.starttls;
    if (opt_.tls == TlsMode::none || plaintext_fallback_)
        co_return DeliveryStatus::success("no TLS");
    bool required = opt_.tls == TlsMode::required;
    if (!caps_.starttls) {
        if (!required) co_return DeliveryStatus::success("TLS not offered");
        // Nothing more goes over this connection: no QUIT, no envelope (RFC 7672 §2.2).
        close();
        co_return DeliveryStatus::temp("4.7.4",
                                       "TLS is required, but was not offered by host " + peer());
    }
    auto r = co_await command("STARTTLS", Step::starttls);
    if (!r.reply) co_return r.failure;
    if (r.reply->code != 220) {
        // RFC 3207 §4: the client may go on without TLS, unless policy requires it.
        if (!required && !closing_) co_return DeliveryStatus::success("STARTTLS refused");
        close();
        DeliveryStatus st = remote_failure(*r.reply, "STARTTLS");
        st.kind = DeliveryStatus::Kind::temporary;
        st.dsn = "4.7.5";
        st.reason =
            "TLS is required, but host " + peer() + " refused to start TLS: " + r.reply->text();
        co_return st;
    }
    // Anything already received was sent before TLS: an injection attempt (DESIGN §3.8).
    discarded_ = stream_.discard_buffered();
    error_code ec = co_await stream_.handshake_client(*opt_.tls_context, opt_.hooks.prepare,
                                                      budget(Step::tls_handshake));
    if (ec) {
        close();
        handshake_failed_ = true;
        co_return DeliveryStatus::temp("4.7.5", "Cannot start TLS: handshake failure");
    }
    if (opt_.hooks.verify) {
        if (auto refused = opt_.hooks.verify(stream_.native_handle())) {
            close();
            co_return *refused;
        }
    }
    co_return co_await hello();  // RFC 3207 §4.2: forget what was learned before TLS
}

std::optional<DeliveryStatus> ClientSession::precheck(const Envelope& env,
                                                      std::uint64_t size) const {
    if (!usable_)
        return DeliveryStatus::temp("4.4.2", "connection with " + peer() + " is not usable");
    if (env.recipients.empty()) return DeliveryStatus::perm("5.5.1", "no recipients");
    // RFC 6531 §3.4: without SMTPUTF8 at the server, such a message cannot be sent.
    if (env.smtputf8 && !caps_.smtputf8)
        return DeliveryStatus::perm("5.6.7",
                                    "SMTPUTF8 is required, but was not offered by host " + peer());
    // RFC 8689 §4.2.1: a REQUIRETLS message only to a server that offers it (after TLS, as
    // hello() re-learns the capabilities then).
    if (env.requiretls && !(caps_.requiretls && stream_.tls()))
        return DeliveryStatus::perm(
            "5.7.30", "REQUIRETLS support required, but not offered by host " + peer());
    // RFC 1870 §5: no point in sending what the server announced it will refuse.
    if (caps_.size && caps_.size_limit > 0 && size > caps_.size_limit)
        return DeliveryStatus::perm(
            "5.3.4", "message size " + std::to_string(size) + " exceeds size limit " +
                         std::to_string(caps_.size_limit) + " of server " + peer());
    return std::nullopt;
}

std::string ClientSession::mail_command(const Envelope& env, std::uint64_t size) const {
    std::string cmd = "MAIL FROM:<" + env.sender + ">";
    if (caps_.size) cmd += " SIZE=" + std::to_string(size);
    if (caps_.eightbitmime && env.body == BodyType::eight_bit_mime) cmd += " BODY=8BITMIME";
    if (caps_.eightbitmime && env.body == BodyType::seven_bit) cmd += " BODY=7BIT";
    if (env.smtputf8) cmd += " SMTPUTF8";
    if (env.requiretls) cmd += " REQUIRETLS";
    if (caps_.dsn && !env.ret.empty()) cmd += " RET=" + env.ret;
    if (caps_.dsn && !env.envid.empty()) cmd += " ENVID=" + xtext_encode(env.envid);
    return cmd;
}

std::string ClientSession::rcpt_command(const Recipient& rcpt) const {
    std::string cmd = "RCPT TO:<" + rcpt.address + ">";
    if (caps_.dsn && !rcpt.notify.empty()) cmd += " NOTIFY=" + rcpt.notify;
    if (caps_.dsn && !rcpt.orcpt.empty()) {
        // RFC 3461 §4.2: addr-type ";" xtext
        auto semi = rcpt.orcpt.find(';');
        if (semi != std::string::npos)
            cmd += " ORCPT=" + rcpt.orcpt.substr(0, semi + 1) +
                   xtext_encode(std::string_view(rcpt.orcpt).substr(semi + 1));
    }
    return cmd;
}

namespace {

// A message already in memory, handed out in pieces of kBodyChunk.
class StringSource : public MessageSource {
  public:
    explicit StringSource(std::string_view m) : rest_(m), size_(crlf_size(m)) {}
    std::uint64_t size() const override { return size_; }
    awaitable<std::optional<std::string_view>> next() override {
        std::string_view piece = rest_.substr(0, kBodyChunk);
        rest_.remove_prefix(piece.size());
        co_return piece;
    }

  private:
    std::string_view rest_;
    std::uint64_t size_;
};

}  // namespace

awaitable<DeliveryStatus> ClientSession::transmit_body(MessageSource& message) {
    DotStuffer stuffer;
    std::string out;
    for (;;) {
        auto piece = co_await message.next();
        if (!piece) {
            // No "." after a broken message: dropping the connection makes the server
            // discard what it got (RFC 5321 §4.1.1.4), so nothing incomplete is delivered.
            close();
            co_return DeliveryStatus::temp("4.3.0",
                                           "error reading the message to send to " + peer());
        }
        stuffer.feed(*piece, out);
        if (piece->empty()) stuffer.finish(out);
        // The end of data goes out with the last piece: a separate small write would wait
        // for the peer's delayed ACK (Nagle), costing ~40 ms per message.
        if (out.size() < kBodyChunk && !piece->empty()) continue;
        error_code ec = co_await stream_.write(out, budget(Step::body));
        if (ec) co_return io_failure(ec, Step::body);
        out.clear();
        if (piece->empty()) break;
    }
    auto r = co_await read_reply(Step::end_of_data);
    if (!r.reply) co_return r.failure;
    if (r.reply->kind() != 2) co_return remote_failure(*r.reply, "end of DATA");
    co_return DeliveryStatus::success(r.reply->text(), r.reply->text());
}

// The state of one transaction while its replies come in.
struct ClientSession::Attempt {
    std::vector<std::optional<DeliveryStatus>> rcpt;  // a rejected recipient's status
    std::optional<DeliveryStatus> failure;            // the first failure of the transaction
    bool mail_ok = false;
    std::size_t accepted = 0;
    bool data_started = false;  // 354 received
    DeliveryStatus end;         // the end-of-data outcome
    void fail(DeliveryStatus st) {
        if (!failure) failure = std::move(st);  // keep the first cause (e.g. MAIL rejected)
    }
};

awaitable<TransactionResult> ClientSession::send(const Envelope& env, std::string_view message) {
    StringSource source(message);
    co_return co_await send(env, source);
}

awaitable<TransactionResult> ClientSession::send(const Envelope& env, MessageSource& message) {
    std::uint64_t size = message.size();
    if (auto refused = precheck(env, size)) {
        TransactionResult res;
        res.status = *refused;
        res.recipients.assign(env.recipients.size(), *refused);
        co_return res;
    }
    auto start = Clock::now();
    ++uses_;
    Attempt a;
    a.rcpt.resize(env.recipients.size());
    // RFC 2920 §3.1: MAIL, RCPT... and DATA may go in one group; replies come in order.
    if (caps_.pipelining)
        co_await envelope_pipelined(env, size, a);
    else
        co_await envelope_stepwise(env, size, a);
    if (a.data_started && a.accepted == 0) {
        // A server that said 354 without any recipient: end the empty message.
        auto failed = co_await send_line(".", Step::end_of_data);
        if (!failed) co_await read_reply(Step::end_of_data);
    } else if (a.data_started && !a.failure) {
        a.end = co_await transmit_body(message);
        if (!a.end.ok()) a.fail(a.end);
    }
    TransactionResult res = results(a);
    res.transmission = Clock::now() - start;
    // A transaction left open must be reset before the connection can be reused.
    if (a.mail_ok && !(a.data_started && a.end.ok()) && usable_ && !closing_) co_await reset();
    if (closing_) close();
    co_return res;
}

awaitable<void> ClientSession::envelope_pipelined(const Envelope& env, std::uint64_t size,
                                                  Attempt& a) {
    std::string group = mail_command(env, size) + "\r\n";
    for (const auto& r : env.recipients) group += rcpt_command(r) + "\r\n";
    group += "DATA";
    auto failed = co_await send_line(std::move(group), Step::mail);
    if (failed) {
        a.fail(*failed);
        co_return;
    }
    co_await read_mail_reply(a);
    // Every reply of the group is read, even after a rejected MAIL, to stay in step.
    for (std::size_t i = 0; i < env.recipients.size() && stream_.is_open(); ++i)
        co_await read_rcpt_reply(i, a);
    if (!stream_.is_open()) co_return;
    auto r = co_await read_reply(Step::data);
    on_data_reply(r, a);
}

awaitable<void> ClientSession::envelope_stepwise(const Envelope& env, std::uint64_t size,
                                                 Attempt& a) {
    auto failed = co_await send_line(mail_command(env, size), Step::mail);
    if (failed) {
        a.fail(*failed);
        co_return;
    }
    co_await read_mail_reply(a);
    for (std::size_t i = 0; i < env.recipients.size() && a.mail_ok && !a.failure; ++i) {
        failed = co_await send_line(rcpt_command(env.recipients[i]), Step::rcpt);
        if (failed)
            a.fail(*failed);
        else
            co_await read_rcpt_reply(i, a);
    }
    if (!a.mail_ok || a.accepted == 0 || a.failure) co_return;
    auto r = co_await command("DATA", Step::data);
    on_data_reply(r, a);
}

awaitable<void> ClientSession::read_mail_reply(Attempt& a) {
    auto r = co_await read_reply(Step::mail);
    if (!r.reply)
        a.fail(r.failure);
    else if (r.reply->kind() != 2)
        a.fail(remote_failure(*r.reply, "MAIL FROM"));
    else
        a.mail_ok = true;
}

awaitable<void> ClientSession::read_rcpt_reply(std::size_t i, Attempt& a) {
    auto r = co_await read_reply(Step::rcpt);
    if (!r.reply)
        a.fail(r.failure);
    else if (r.reply->kind() != 2)
        a.rcpt[i] = remote_failure(*r.reply, "RCPT TO");
    else
        ++a.accepted;
}

void ClientSession::on_data_reply(const ReplyOr& r, Attempt& a) {
    if (!r.reply)
        a.fail(r.failure);
    else if (r.reply->code == 354)
        a.data_started = true;
    // A rejected DATA matters only when there was something to send.
    else if (a.mail_ok && a.accepted > 0)
        a.fail(remote_failure(*r.reply, "DATA"));
}

// Per recipient: the first failure that concerns it, else the end-of-data reply.
TransactionResult ClientSession::results(const Attempt& a) const {
    TransactionResult res;
    std::optional<DeliveryStatus> first_rcpt_failure;
    for (const auto& rcpt : a.rcpt) {
        if (!a.mail_ok && a.failure)
            res.recipients.push_back(*a.failure);
        else if (rcpt)
            res.recipients.push_back(*rcpt);
        else if (a.failure)
            res.recipients.push_back(*a.failure);
        else
            res.recipients.push_back(a.end);
        if (rcpt && !first_rcpt_failure) first_rcpt_failure = rcpt;
    }
    if (a.failure)
        res.status = *a.failure;
    else if (a.accepted == 0 && first_rcpt_failure)
        res.status = *first_rcpt_failure;
    else
        res.status = a.end;
    return res;
}

awaitable<DeliveryStatus> ClientSession::reset() {
    auto r = co_await command("RSET", Step::rset);
    if (!r.reply) co_return r.failure;
    if (r.reply->kind() != 2) {
        close();
        co_return remote_failure(*r.reply, "RSET");
    }
    co_return DeliveryStatus::success(r.reply->text());
}

awaitable<void> ClientSession::quit() {
    if (stream_.is_open()) {
        auto failed = co_await send_line("QUIT", Step::quit);
        if (!failed) {
            auto r = co_await read_reply(Step::quit);
            if (r.reply && tls_active()) end_tls_cleanly();
        }
    }
    close();
}

awaitable<ProbeResult> probe(boost::asio::any_io_executor ex, tcp::endpoint peer,
                             ClientOptions options) {
    ClientSession session(ex, std::move(options));
    ProbeResult out;
    out.status = co_await session.open(peer);
    out.greeting = session.greeting();
    out.capabilities = session.capabilities();
    out.starttls_offered = session.starttls_offered();
    out.tls_established = session.tls_active() && out.status.ok();
    if (SSL* ssl = session.ssl(); ssl && out.tls_established) {
        out.tls_version = SSL_get_version(ssl);
        if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl))
            out.tls_cipher = SSL_CIPHER_get_name(c);
    }
    out.setup_time = session.setup_time();
    if (out.status.ok()) co_await session.quit();
    co_return out;
}

}  // namespace dr::smtp
