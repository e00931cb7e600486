// Listening sockets, limits and inbound sessions (see listener.hpp).
#include "relay/serve/listener.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "relay/serve/inbound_sink.hpp"

namespace dr::relay {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::shared_ptr<InboundSettings> inbound_settings(const conf::Config& cfg,
                                                  asio::ssl::context* server_tls,
                                                  smtp::Authenticate authenticate) {
    auto in = std::make_shared<InboundSettings>();
    in->allowed = cfg.server.allowed_clients;
    in->max_connections = cfg.server.max_connections;
    in->max_per_client = cfg.server.max_connections_per_client;
    in->max_unallowed = cfg.server.max_unallowed_connections;
    auto& o = in->options;
    o.hostname = cfg.server.hostname;
    o.tls = server_tls;
    o.requiretls = cfg.requiretls.offer;
    if (server_tls) o.authenticate = std::move(authenticate);
    o.max_message_size = cfg.server.max_message_size;
    o.max_recipients = cfg.server.max_recipients;
    o.session_timeout = cfg.server.session_timeout;
    o.junk_limit = cfg.server.junk_command_limit;
    o.timeouts.set(smtp::Step::command, std::chrono::duration_cast<std::chrono::milliseconds>(
                                            cfg.server.command_timeout));
    // SPEC §3: never an open relay.
    o.allowed = [allowed = in->allowed](const smtp::ClientInfo& c) {
        auto ip = conf::parse_ip(c.peer.address().to_string());
        return ip && conf::matches_any(allowed, *ip);
    };
    return in;
}

bool InboundSettings::is_allowed(const tcp::endpoint& peer) const {
    auto ip = conf::parse_ip(peer.address().to_string());
    return ip && conf::matches_any(allowed, *ip);
}

Listener::Listener(asio::io_context& io, Logger& log) : io_(io), log_(log) {}

std::string Listener::bind(const conf::Endpoint& ep) {
    try {
        tcp::endpoint where(asio::ip::make_address(ep.address.to_string()), ep.port);
        auto& a = acceptors_.emplace_back(io_);
        a.open(where.protocol());
        a.set_option(tcp::acceptor::reuse_address(true));
        if (where.address().is_v6()) a.set_option(asio::ip::v6_only(true));
        a.bind(where);
        a.listen();
    } catch (const boost::system::system_error& e) {
        return "cannot listen on " + ep.to_string() + ": " + e.code().message();
    }
    return {};
}

void Listener::start(std::shared_ptr<InboundSettings> settings, smtp::MessageSink& sink) {
    settings_ = std::move(settings);
    sink_ = &sink;
    for (auto& a : acceptors_) asio::co_spawn(io_, accept_loop(a), asio::detached);
}

void Listener::close() {
    for (auto& a : acceptors_) a.close();
}

asio::awaitable<void> Listener::accept_loop(tcp::acceptor& acceptor) {
    while (acceptor.is_open()) {
        boost::system::error_code ec;
        tcp::socket socket =
            co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted) co_return;
        if (ec) {
            co_await back_off(ec);
            continue;
        }
        if (backing_off_) log_.info(Role::smtpd, "accepting connections again");
        backing_off_ = false;
        auto peer = socket.remote_endpoint(ec);
        if (!ec) admit(std::move(socket), peer, settings_);
    }
}

// EMFILE/ENFILE (or any accept failure) would come back at once: wait, so that the loop does
// not spin, and log it once per burst (SPEC §12).
asio::awaitable<void> Listener::back_off(const boost::system::error_code& ec) {
    if (!backing_off_) log_.warning(Role::smtpd, "accept: " + ec.message() + "; backing off");
    backing_off_ = true;
    asio::steady_timer pause(io_, std::chrono::milliseconds(100));
    boost::system::error_code ignored;
    co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

void Listener::admit(tcp::socket socket, const tcp::endpoint& peer,
                     const std::shared_ptr<InboundSettings>& in) {
    std::string addr = peer.address().to_string();
    if (!in->is_allowed(peer)) {
        // SPEC §12: they never take the slots of allowed clients. AUTH needs a session;
        // without it on offer there is nothing they may do here.
        bool auth = in->options.authenticate && in->options.tls;
        if (unallowed_ >= in->max_unallowed) {
            boost::system::error_code ignored;
            socket.close(ignored);
        } else if (auth) {
            ++unallowed_;  // counted now: the coroutine starts later
            asio::co_spawn(io_, session(std::move(socket), peer, in, false), asio::detached);
        } else {
            ++unallowed_;
            log_.info(Role::smtpd, "NOQUEUE: reject: CONNECT from " + client_name(peer) +
                                       ": 554 5.7.1 Relay access denied");
            asio::co_spawn(io_,
                           refuse(std::move(socket),
                                  "554 5.7.1 " + in->options.hostname + " Relay access denied"),
                           asio::detached);
        }
        return;
    }
    if (total_ >= in->max_connections || per_client_[addr] >= in->max_per_client) {
        log_.warning(Role::smtpd, "Connection limit exceeded for " + client_name(peer));
        asio::co_spawn(io_,
                       smtp::refuse(std::move(socket), in->options.hostname,
                                    "Error: too many connections from " + addr),
                       asio::detached);
        return;
    }
    asio::co_spawn(io_, session(std::move(socket), peer, in, true), asio::detached);
}

asio::awaitable<void> Listener::refuse(tcp::socket socket, std::string reply) {
    smtp::LineStream stream(std::move(socket));
    co_await stream.write(reply + "\r\n", std::chrono::seconds(2));
    stream.close();
    --unallowed_;
}

asio::awaitable<void> Listener::session(tcp::socket socket, tcp::endpoint peer,
                                        std::shared_ptr<InboundSettings> in, bool allowed) {
    const std::string addr = peer.address().to_string();
    if (allowed) {
        ++total_;
        ++per_client_[addr];
    }
    log_.info(Role::smtpd, "connect from " + client_name(peer));
    std::string counts;
    try {
        smtp::ServerSession s(std::move(socket), *sink_, in->options);
        co_await s.run();
        counts = s.command_counts();
    } catch (const std::exception& e) {
        log_.warning(Role::smtpd, "session with " + client_name(peer) + " ended: " + e.what());
    }
    // Postfix 3.x: "disconnect from host[addr] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5"
    log_.info(Role::smtpd,
              "disconnect from " + client_name(peer) + (counts.empty() ? "" : " " + counts));
    if (!allowed) {
        --unallowed_;
    } else {
        --total_;
        if (--per_client_[addr] == 0) per_client_.erase(addr);
    }
}

}  // namespace dr::relay
