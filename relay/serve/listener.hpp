// The inbound side of the daemon (SPEC §3): the listening sockets, the connection limits (in
// total and per client address, "421 4.7.0" beyond them), and one SMTP server session per
// accepted connection, logged as Postfix's smtpd logs "connect from" / "disconnect from" with
// its command counters. Clients outside allowed_clients are refused right after accept (or get
// a session of their own small budget when AUTH is offered); running out of descriptors backs
// off (SPEC §12). Entry points: inbound_settings(), Listener (bind, start, close,
// reconfigure). Binding errors are start-up errors (returned as text).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "conf/address.hpp"
#include "conf/config.hpp"
#include "relay/log/log.hpp"
#include "smtp/server_session.hpp"

namespace dr::relay {

// What a session needs from the configuration; replaced as a whole on SIGHUP, while running
// sessions keep the one they started with.
struct InboundSettings {
    smtp::ServerOptions options;
    std::vector<conf::Cidr> allowed;
    unsigned max_connections = 100;
    unsigned max_per_client = 50;
    // SPEC §12: clients outside `allowed` have their own small budget; without AUTH on offer
    // they only ever get "554 5.7.1" (within the same budget; beyond it they are closed).
    unsigned max_unallowed = 10;
    bool is_allowed(const boost::asio::ip::tcp::endpoint& peer) const;
};

// `server_tls` (may be null: no STARTTLS) must outlive the settings. AUTH is offered when
// `authenticate` is set and so is `server_tls` (SPEC §3).
std::shared_ptr<InboundSettings> inbound_settings(const conf::Config& cfg,
                                                  boost::asio::ssl::context* server_tls,
                                                  smtp::Authenticate authenticate = {});

class Listener {
  public:
    Listener(boost::asio::io_context& io, Logger& log);
    // Binds one listening address (before root is dropped); returns an error text or "".
    std::string bind(const conf::Endpoint& ep);
    // Accepts on every bound socket; sessions store their mail through `sink`.
    void start(std::shared_ptr<InboundSettings> settings, smtp::MessageSink& sink);
    void reconfigure(std::shared_ptr<InboundSettings> settings) { settings_ = std::move(settings); }
    void close();  // stops accepting; running sessions go on

  private:
    boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor);
    boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket,
                                         boost::asio::ip::tcp::endpoint peer,
                                         std::shared_ptr<InboundSettings> in, bool allowed);
    // Sends "<code> text" and closes; the caller counted it in unallowed_, this uncounts it.
    boost::asio::awaitable<void> refuse(boost::asio::ip::tcp::socket socket, std::string reply);
    void admit(boost::asio::ip::tcp::socket socket, const boost::asio::ip::tcp::endpoint& peer,
               const std::shared_ptr<InboundSettings>& in);
    boost::asio::awaitable<void> back_off(const boost::system::error_code& ec);

    boost::asio::io_context& io_;
    Logger& log_;
    smtp::MessageSink* sink_ = nullptr;
    std::list<boost::asio::ip::tcp::acceptor> acceptors_;
    std::shared_ptr<InboundSettings> settings_;
    unsigned total_ = 0;
    unsigned unallowed_ = 0;    // sessions and refusals of clients outside allowed_clients
    bool backing_off_ = false;  // logged once per burst of accept failures
    std::map<std::string, unsigned> per_client_;
};

}  // namespace dr::relay
