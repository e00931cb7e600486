#include "relay/serve/inbound_sink.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <optional>
#include <utility>

#include "relay/metrics/metrics.hpp"
#include "relay/queue/bounce.hpp"
#include "relay/spool/unix_time.hpp"
#include "smtp/header_fields.hpp"
#include "smtp/peer_name.hpp"

namespace dr::relay {

std::string client_name(const boost::asio::ip::tcp::endpoint& peer) {
    auto a = peer.address();
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        a = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
    return smtp::peer_name(a.is_loopback() ? "localhost" : "unknown", a.to_string());
}

namespace {

// The envelope as the session parsed it, with the trace of where it came from.
QueuedEnvelope queued(const smtp::Envelope& in, const smtp::ClientInfo& client) {
    QueuedEnvelope e;
    static_cast<smtp::Envelope&>(e) = in;
    e.client_name = client_name(client.peer);
    e.client_addr = client.peer.address().to_string();
    e.helo = client.helo;
    e.auth_user = client.auth_user;
    return e;
}

}  // namespace

// Every write runs on the AsyncSpool's pool: the message is gathered here into pieces of
// kFlush and each is written there while the session reads on; commit() writes the rest,
// then fsyncs and renames, in one trip (the 250 still means fsync'd).
class SpoolMessageWriter : public smtp::MessageWriter {
  public:
    SpoolMessageWriter(SpoolSink& sink, std::unique_ptr<SpoolWriter> w, QueuedEnvelope env,
                       std::string received)
        : sink_(sink), writer_(std::move(w)), env_(std::move(env)), buf_(std::move(received)) {
        id_ = writer_->id();
    }
    // A writer neither committed nor aborted (the daemon is exiting) deletes its file inline:
    // the pool may be gone by then.

    smtp::awaitable<bool> write(std::string_view chunk) override {
        if (head_.size() < kHeadScan) head_.append(chunk.substr(0, kHeadScan - head_.size()));
        buf_ += chunk;
        if (buf_.size() < kFlush) co_return true;
        co_return !co_await flush();
    }

    // The rest of the body is written in the commit's own trip to the pool.
    smtp::awaitable<smtp::SinkResult> commit() override {
        CommitResult r{make_error_code(SpoolErrc::closed), {}};
        // RFC 8689 §4.1: the header is ignored when REQUIRETLS was given; whether it is
        // honoured is decided at delivery ([requiretls] tls_required_no).
        env_.tls_optional = !env_.requiretls && smtp::tls_required_no(head_);
        if (writer_)
            r = co_await sink_.spool_.async_commit(std::move(writer_), std::exchange(buf_, {}),
                                                   env_, boost::asio::use_awaitable);
        if (r.ec) {
            sink_.log_.warning(Role::cleanup, id_ + ": cannot store message: " + r.ec.message());
            co_return smtp::SinkResult{false, {}};
        }
        sink_.log_.info(Role::cleanup,
                        r.id + ": message-id=<" + smtp::find_message_id(head_) + ">");
        if (env_.tls_optional)
            sink_.log_.info(Role::cleanup, r.id + ": TLS-Required: No (RFC 8689)");
        if (sink_.metrics_) sink_.metrics_->accepted();
        sink_.on_queued_(r.id);
        co_return smtp::SinkResult{true, r.id};
    }

    // The spool deletes an uncommitted file (on the pool).
    void abort() override { sink_.spool_.discard(std::move(writer_)); }

  private:
    static constexpr std::size_t kHeadScan = 64 * 1024;
    static constexpr std::size_t kFlush = 1024 * 1024;

    // Hands the gathered piece to the pool; the writer's first error sticks (as SpoolWriter's).
    smtp::awaitable<std::error_code> flush() {
        if (!writer_) co_return make_error_code(SpoolErrc::closed);
        std::string piece = std::exchange(buf_, {});
        auto r = co_await sink_.spool_.async_write(std::move(writer_), std::move(piece),
                                                   boost::asio::use_awaitable);
        writer_ = std::move(r.writer);
        buf_.reserve(kFlush + 64 * 1024);
        co_return r.ec;
    }

    SpoolSink& sink_;
    std::unique_ptr<SpoolWriter> writer_;
    QueuedEnvelope env_;
    std::string buf_;   // received, not yet handed to the pool
    std::string head_;  // the start of the message, for the Message-ID
    std::string id_;
};

SpoolSink::SpoolSink(AsyncSpool& spool, Logger& log, std::string hostname,
                     std::function<void(const std::string&)> on_queued, Metrics* metrics)
    : spool_(spool),
      log_(log),
      hostname_(std::move(hostname)),
      on_queued_(std::move(on_queued)),
      metrics_(metrics) {}

smtp::awaitable<std::unique_ptr<smtp::MessageWriter>> SpoolSink::open(
    const smtp::ClientInfo& client, const smtp::Envelope& env) {
    if (in_flow_) co_await in_flow_->admit(in_flow_delay_);
    // No file yet (only the free-space check, an fstatvfs): it is made on the pool with the
    // first write.
    auto begun = spool_.begin_deferred();
    if (!begun.writer) {
        log_.warning(Role::smtpd, "cannot open a queue file: " + begun.ec.message());
        co_return nullptr;
    }
    auto& w = begun.writer;
    // Postfix: "client=host[addr], sasl_method=PLAIN, sasl_username=user" once authenticated.
    std::string line = w->id() + ": client=" + client_name(client.peer);
    if (!client.auth_user.empty()) {
        line += ", sasl_method=";
        line += client.auth_method;
        line += ", sasl_username=";
        line += client.auth_user;
    }
    log_.info(Role::smtpd, line);
    // RFC 5321 §4.4: a relay prepends its trace header.
    std::string received = "Received: from " + (client.helo.empty() ? "unknown" : client.helo) +
                           " (" + client_name(client.peer) + ")\r\n\tby " + hostname_ +
                           " (dane-relay) with " + client.protocol() + " id " + w->id();
    if (env.recipients.size() == 1) received += "\r\n\tfor <" + env.recipients[0].address + ">";
    received += "; " + rfc5322_date(unix_micros()) + "\r\n";
    co_return std::make_unique<SpoolMessageWriter>(*this, std::move(w), queued(env, client),
                                                   std::move(received));
}

}  // namespace dr::relay
