// The inbound side's storage: a smtp::MessageSink that streams each message
// into the spool with a Received: trace header (RFC 5321 §4.4) and answers
// 250 only after the group-committed fsync (SPEC §3). The file is created, written (in
// pieces of 1 MiB) and committed on the AsyncSpool's pool, never on the event loop. Logs Postfix's
// smtpd "client=" and cleanup "message-id=" lines and hands new queue IDs to on_queued. Entry
// point: SpoolSink. A spool error means "452 4.3.1".
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "relay/log/log.hpp"
#include "relay/queue/in_flow.hpp"
#include "relay/spool/async_spool.hpp"
#include "smtp/server_session.hpp"

namespace dr::relay {

class Metrics;

// Postfix's "name[addr]" for a client: loopback is "localhost", others "unknown"
// (we do no reverse DNS).
std::string client_name(const boost::asio::ip::tcp::endpoint& peer);

class SpoolSink : public smtp::MessageSink {
  public:
    // metrics, when given, counts each message-id line (SPEC §10 messages_accepted_total).
    SpoolSink(AsyncSpool& spool, Logger& log, std::string hostname,
              std::function<void(const std::string& id)> on_queued, Metrics* metrics = nullptr);
    // Postfix's in_flow_delay: each new message first waits up to `delay` for a token.
    void set_in_flow(InFlow* in_flow, std::chrono::milliseconds delay) {
        in_flow_ = in_flow;
        in_flow_delay_ = delay;
    }
    smtp::awaitable<std::unique_ptr<smtp::MessageWriter>> open(const smtp::ClientInfo& client,
                                                               const smtp::Envelope& env) override;

  private:
    friend class SpoolMessageWriter;
    AsyncSpool& spool_;
    Logger& log_;
    std::string hostname_;
    std::function<void(const std::string&)> on_queued_;
    Metrics* metrics_;
    InFlow* in_flow_ = nullptr;
    std::chrono::milliseconds in_flow_delay_{0};
};

}  // namespace dr::relay
