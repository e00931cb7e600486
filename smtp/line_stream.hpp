// Line-oriented I/O over TCP, upgraded in place to TLS (STARTTLS), with a timeout on every
// operation. Entry points: LineStream::connect/read_line/write/handshake_client/handshake_server.
// Failures are error codes: asio::error::timed_out, eof, message_size (line too long), TLS errors.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace dr::smtp {

namespace asio = boost::asio;
using asio::awaitable;
using error_code = boost::system::error_code;
using tcp = asio::ip::tcp;

class LineStream {
  public:
    using Duration = std::chrono::steady_clock::duration;

    explicit LineStream(asio::any_io_executor ex);
    explicit LineStream(tcp::socket accepted);

    awaitable<error_code> connect(const tcp::endpoint& ep, Duration timeout,
                                  std::optional<asio::ip::address> source = std::nullopt);
    // Closes and forgets the connection (TLS included), ready for a new connect().
    void reset();

    // Reads one line into `line` without its terminator. A line longer than max_length
    // gives message_size with its first max_length bytes in `line`; the rest of it is
    // skipped by the next call, so the dialogue can go on (RFC 5321 §4.5.3.1.4: a server
    // replies 500 and continues; a client keeps the cut line, as Postfix does).
    awaitable<error_code> read_line(std::string& line, Duration timeout,
                                    std::size_t max_length = 8192);
    // Whether the last line read ended with a bare LF instead of CRLF.
    bool last_line_bare_lf() const { return bare_lf_; }

    awaitable<error_code> write(std::string_view data, Duration timeout);

    // STARTTLS, client side: `prepare` runs on the SSL* before the handshake (SNI,
    // DANE set-up); returning false aborts with ssl::error::unspecified_system_error.
    awaitable<error_code> handshake_client(asio::ssl::context& ctx,
                                           const std::function<bool(SSL*)>& prepare,
                                           Duration timeout);
    awaitable<error_code> handshake_server(asio::ssl::context& ctx, Duration timeout);

    // Drops bytes received but not yet read as lines; returns how many. After STARTTLS
    // they were sent in plaintext before the handshake and must not be trusted (RFC 3207 §4.2).
    std::size_t discard_buffered();
    bool has_buffered() const { return head_ < buf_.size(); }

    // Raw access for DATA: fill() reads one more chunk into the buffer; buffered() shows
    // what is unread; consume(n) marks n of those octets as read.
    awaitable<error_code> fill(Duration timeout);
    std::string_view buffered() const { return std::string_view(buf_).substr(head_); }
    void consume(std::size_t n);

    bool tls() const { return tls_.has_value(); }
    SSL* native_handle() { return tls_ ? tls_->native_handle() : nullptr; }
    tcp::socket& socket() { return tls_ ? tls_->next_layer() : sock_; }
    bool is_open() { return socket().is_open(); }
    void close();

  private:
    template <typename Op>
    awaitable<std::tuple<error_code, std::size_t>> timed(Op op, Duration timeout);
    awaitable<error_code> read_some(std::chrono::steady_clock::time_point deadline);
    bool skip_partial_line();

    tcp::socket sock_;
    std::optional<asio::ssl::stream<tcp::socket>> tls_;
    asio::steady_timer timer_;
    std::string buf_;
    std::size_t head_ = 0;   // start of unread data in buf_
    bool skipping_ = false;  // discarding the tail of an overlong line
    bool bare_lf_ = false;
};

}  // namespace dr::smtp
