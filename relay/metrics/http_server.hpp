// The metrics page over HTTP (SPEC §10): a minimal HTTP/1.0-style server on Asio that
// answers "GET /metrics" with the page and closes. One coroutine per connection under a
// whole-exchange watchdog (kTimeout); requests are bounded in size; at most kMaxSessions at once.
// Anything else gets 404 (other paths), 405 (other methods) or 400 (malformed, too large).
// Entry point: MetricsServer (bind, start, close); the request and response texts are
// http_request.hpp's. bind() failing (a busy port) is a start-up error string.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "conf/address.hpp"
#include "relay/metrics/http_request.hpp"

namespace dr::relay {

class MetricsServer {
  public:
    static constexpr std::size_t kMaxRequest = 8192;  // the head, with its headers
    static constexpr std::size_t kMaxSessions = 16;
    static constexpr std::chrono::milliseconds kTimeout{10'000};  // one whole exchange

    // page() renders the body; it runs on ex's thread.
    MetricsServer(boost::asio::any_io_executor ex, std::function<std::string()> page,
                  std::chrono::milliseconds timeout = kTimeout);

    // "cannot listen for metrics on ADDR: reason", or "".
    std::string bind(const conf::Endpoint& where);
    void start();
    void close();
    // The bound address (tests bind port 0 through the acceptor: see local_endpoint()).
    boost::asio::ip::tcp::endpoint local_endpoint() const;

  private:
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket);
    boost::asio::awaitable<void> exchange(boost::asio::ip::tcp::socket& socket);

    boost::asio::any_io_executor ex_;
    std::function<std::string()> page_;
    std::chrono::milliseconds timeout_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::shared_ptr<std::size_t> sessions_ = std::make_shared<std::size_t>(0);
};

}  // namespace dr::relay
