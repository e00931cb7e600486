#include "relay/serve/inbound_sink.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "relay/queue/bounce.hpp"
#include "smtp/peer_name.hpp"

namespace dr::relay {

std::string client_name(const boost::asio::ip::tcp::endpoint& peer) {
    auto a = peer.address();
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        a = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
    return smtp::peer_name(a.is_loopback() ? "localhost" : "unknown", a.to_string());
}

std::string find_message_id(std::string_view headers) {
    std::size_t pos = 0;
    while (pos < headers.size()) {
        std::size_t end = headers.find('\n', pos);
        std::string_view line =
            headers.substr(pos, end == std::string_view::npos ? end : end - pos);
        if (line.empty() || line == "\r") break;  // end of the header block
        if (line.size() > 11 && strncasecmp(line.data(), "Message-ID:", 11) == 0) {
            auto open = line.find('<'), close = line.find('>', open);
            if (open != std::string_view::npos && close != std::string_view::npos)
                return std::string(line.substr(open + 1, close - open - 1));
            return {};
        }
        if (end == std::string_view::npos) break;
        pos = end + 1;
    }
    return {};
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

class SpoolMessageWriter : public smtp::MessageWriter {
  public:
    SpoolMessageWriter(SpoolSink& sink, std::unique_ptr<SpoolWriter> w, QueuedEnvelope env)
        : sink_(sink), writer_(std::move(w)), env_(std::move(env)) {}

    smtp::awaitable<bool> write(std::string_view chunk) override {
        if (head_.size() < kHeadScan) head_.append(chunk.substr(0, kHeadScan - head_.size()));
        co_return !writer_->write(chunk);
    }

    smtp::awaitable<smtp::SinkResult> commit() override {
        std::string id = writer_->id();
        auto r = co_await sink_.spool_.async_commit(std::move(writer_), env_,
                                                    boost::asio::use_awaitable);
        if (r.ec) {
            sink_.log_.warning(Role::cleanup, id + ": cannot store message: " + r.ec.message());
            co_return smtp::SinkResult{false, {}};
        }
        sink_.log_.info(Role::cleanup, r.id + ": message-id=<" + find_message_id(head_) + ">");
        sink_.on_queued_(r.id);
        co_return smtp::SinkResult{true, r.id};
    }

    void abort() override { writer_.reset(); }  // the spool deletes an uncommitted file

  private:
    static constexpr std::size_t kHeadScan = 64 * 1024;
    SpoolSink& sink_;
    std::unique_ptr<SpoolWriter> writer_;
    QueuedEnvelope env_;
    std::string head_;  // the start of the message, for the Message-ID
};

SpoolSink::SpoolSink(AsyncSpool& spool, Logger& log, std::string hostname,
                     std::function<void(const std::string&)> on_queued)
    : spool_(spool), log_(log), hostname_(std::move(hostname)), on_queued_(std::move(on_queued)) {}

std::unique_ptr<smtp::MessageWriter> SpoolSink::open(const smtp::ClientInfo& client,
                                                     const smtp::Envelope& env) {
    std::error_code ec;
    auto w = spool_.spool().begin(ec);
    if (!w) {
        log_.warning(Role::smtpd, "cannot open a queue file: " + ec.message());
        return nullptr;
    }
    log_.info(Role::smtpd, w->id() + ": client=" + client_name(client.peer));
    // RFC 5321 §4.4: a relay prepends its trace header.
    std::string received = "Received: from " + (client.helo.empty() ? "unknown" : client.helo) +
                           " (" + client_name(client.peer) + ")\r\n\tby " + hostname_ +
                           " (dane-relay) with " + client.protocol() + " id " + w->id();
    if (env.recipients.size() == 1) received += "\r\n\tfor <" + env.recipients[0].address + ">";
    received += "; " +
                rfc5322_date(std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count()) +
                "\r\n";
    if (w->write(received)) return nullptr;
    return std::make_unique<SpoolMessageWriter>(*this, std::move(w), queued(env, client));
}

}  // namespace dr::relay
