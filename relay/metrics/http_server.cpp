// GET /metrics over HTTP (see http_server.hpp).
#include "relay/metrics/http_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace dr::relay {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

MetricsServer::MetricsServer(asio::any_io_executor ex, std::function<std::string()> page,
                             std::chrono::milliseconds timeout)
    : ex_(ex), page_(std::move(page)), timeout_(timeout), acceptor_(ex) {}

std::string MetricsServer::bind(const conf::Endpoint& where) {
    try {
        tcp::endpoint ep(asio::ip::make_address(where.address.to_string()), where.port);
        acceptor_.open(ep.protocol());
        acceptor_.set_option(tcp::acceptor::reuse_address(true));
        if (ep.address().is_v6()) acceptor_.set_option(asio::ip::v6_only(true));
        acceptor_.bind(ep);
        acceptor_.listen();
    } catch (const boost::system::system_error& e) {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        return "cannot listen for metrics on " + where.to_string() + ": " + e.code().message();
    }
    return {};
}

tcp::endpoint MetricsServer::local_endpoint() const {
    boost::system::error_code ec;
    return acceptor_.local_endpoint(ec);
}

void MetricsServer::start() {
    if (acceptor_.is_open()) asio::co_spawn(ex_, accept_loop(), asio::detached);
}

void MetricsServer::close() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
}

asio::awaitable<void> MetricsServer::accept_loop() {
    asio::steady_timer pause(ex_);
    while (acceptor_.is_open()) {
        auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
        if (ec == asio::error::operation_aborted) co_return;
        if (ec) {  // EMFILE and the like: wait a little rather than spin
            pause.expires_after(std::chrono::milliseconds(100));
            co_await pause.async_wait(use_tuple);
            continue;
        }
        if (*sessions_ >= kMaxSessions) continue;  // the socket closes: a scraper retries
        asio::co_spawn(ex_, session(std::move(socket)), asio::detached);
    }
}

// The whole exchange under one watchdog: a slow or silent client is dropped after timeout_.
asio::awaitable<void> MetricsServer::session(tcp::socket socket) {
    using namespace asio::experimental::awaitable_operators;
    auto count = sessions_;  // the server may be gone when this frame is destroyed
    ++*count;
    asio::steady_timer watchdog(socket.get_executor());
    watchdog.expires_after(timeout_);
    co_await (exchange(socket) || watchdog.async_wait(use_tuple));
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    --*count;
}

asio::awaitable<void> MetricsServer::exchange(tcp::socket& socket) {
    std::string head;
    auto [ec, n] = co_await asio::async_read_until(socket, asio::dynamic_buffer(head, kMaxRequest),
                                                   "\r\n\r\n", use_tuple);
    // Too large (not_found: the buffer filled up without a blank line) or malformed.
    Route route = ec ? Route::bad_request : route_request(std::string_view(head).substr(0, n));
    if (ec && ec != asio::error::not_found) co_return;  // the client went away
    std::string reply = http_response(route, route == Route::metrics ? page_() : std::string());
    co_await asio::async_write(socket, asio::buffer(reply), use_tuple);
}

}  // namespace dr::relay
