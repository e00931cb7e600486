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

struct Status {
    const char* line;
    const char* body;
};

Status status_of(Route r) {
    switch (r) {
        case Route::metrics:
            return {"200 OK", ""};
        case Route::not_found:
            return {"404 Not Found", "not found: the page is /metrics\n"};
        case Route::method_not_allowed:
            return {"405 Method Not Allowed", "only GET\n"};
        case Route::bad_request:
            break;
    }
    return {"400 Bad Request", "bad request\n"};
}

}  // namespace

Route route_request(std::string_view head) {
    // RFC 9112 §3: method SP request-target SP HTTP-version, then CRLF.
    auto eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    auto sp1 = line.find(' ');
    auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return Route::bad_request;
    std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1),
                     version = line.substr(sp2 + 1);
    if (method.empty() || target.empty() || !version.starts_with("HTTP/1.") || version.size() != 8)
        return Route::bad_request;
    if (method != "GET") return Route::method_not_allowed;
    std::string_view path = target.substr(0, target.find('?'));
    return path == "/metrics" ? Route::metrics : Route::not_found;
}

std::string http_response(Route route, std::string_view body) {
    Status s = status_of(route);
    std::string_view content = route == Route::metrics ? body : std::string_view(s.body);
    std::string out = "HTTP/1.0 ";
    out += s.line;
    out += "\r\nContent-Type: ";
    out += route == Route::metrics ? "text/plain; version=0.0.4; charset=utf-8"
                                   : "text/plain; charset=utf-8";
    out += "\r\nContent-Length: ";
    out += std::to_string(content.size());
    if (route == Route::method_not_allowed) out += "\r\nAllow: GET";
    out += "\r\nConnection: close\r\n\r\n";
    out += content;
    return out;
}

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
