#include "smtp/line_stream.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace dr::smtp {

namespace {

using Pair = std::tuple<error_code, std::size_t>;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

awaitable<Pair> without_size(awaitable<std::tuple<error_code>> op) {
    auto [ec] = co_await std::move(op);
    co_return Pair{ec, 0};
}

}  // namespace

LineStream::LineStream(asio::any_io_executor ex) : sock_(ex), timer_(ex) {}

LineStream::LineStream(tcp::socket accepted)
    : sock_(std::move(accepted)), timer_(sock_.get_executor()) {
    error_code ignored;
    sock_.set_option(tcp::no_delay(true), ignored);  // replies are written in batches
}

// Asio 1.26 has no cancel_after: race the operation against the timer; the
// loser is cancelled by the || operator.
template <typename Op>
awaitable<Pair> LineStream::timed(Op op, Duration timeout) {
    using namespace asio::experimental::awaitable_operators;
    timer_.expires_after(timeout);
    auto r = co_await (std::move(op) || timer_.async_wait(use_tuple));
    if (r.index() == 1) co_return Pair{asio::error::timed_out, 0};
    co_return std::get<0>(std::move(r));
}

awaitable<error_code> LineStream::connect(const tcp::endpoint& ep, Duration timeout,
                                          std::optional<asio::ip::address> source) {
    if (source) {
        error_code ec;
        sock_.open(ep.protocol(), ec);
        if (!ec) sock_.bind(tcp::endpoint(*source, 0), ec);
        if (ec) {
            close();
            co_return ec;
        }
    }
    auto [ec, n] = co_await timed(without_size(sock_.async_connect(ep, use_tuple)), timeout);
    if (ec) {
        close();
        co_return ec;
    }
    // Every command (or pipelined batch) goes out in one write; Nagle would
    // hold the first record after the TLS handshake until the peer's delayed
    // ACK (40 ms per connection).
    error_code ignored;
    sock_.set_option(tcp::no_delay(true), ignored);
    co_return ec;
}

void LineStream::reset() {
    close();
    tls_.reset();
    sock_ = tcp::socket(timer_.get_executor());
    discard_buffered();
    bare_lf_ = false;
}

void LineStream::consume(std::size_t n) {
    head_ += n;
    if (head_ >= buf_.size()) {
        buf_.clear();
        head_ = 0;
        // Give back what a message burst needed; idle sessions keep only a small buffer.
        if (buf_.capacity() > 16384) buf_.shrink_to_fit();
    } else if (head_ > 65536 && head_ > buf_.size() / 2) {
        buf_.erase(0, head_);
        head_ = 0;
    }
}

bool LineStream::skip_partial_line() {
    auto nl = buf_.find('\n', head_);
    if (nl == std::string::npos) {
        consume(buf_.size() - head_);
        return false;
    }
    consume(nl + 1 - head_);
    skipping_ = false;
    return true;
}

awaitable<error_code> LineStream::read_some(std::chrono::steady_clock::time_point deadline) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= Duration::zero()) co_return asio::error::timed_out;
    std::array<char, 16384> chunk;
    Pair r;
    if (tls_)
        r = co_await timed(tls_->async_read_some(asio::buffer(chunk), use_tuple), left);
    else
        r = co_await timed(sock_.async_read_some(asio::buffer(chunk), use_tuple), left);
    auto [ec, n] = r;
    buf_.append(chunk.data(), n);
    co_return ec;
}

awaitable<error_code> LineStream::fill(Duration timeout) {
    co_return co_await read_some(std::chrono::steady_clock::now() + timeout);
}

awaitable<error_code> LineStream::read_line(std::string& line, Duration timeout,
                                            std::size_t max_length) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (skipping_ && !skip_partial_line()) {
            error_code ec = co_await read_some(deadline);
            if (ec) co_return ec;
            continue;
        }
        auto nl = buf_.find('\n', head_);
        if (nl != std::string::npos) {
            std::size_t len = nl - head_;
            bare_lf_ = len == 0 || buf_[nl - 1] != '\r';
            if (!bare_lf_) --len;
            bool too_long = len > max_length;
            line.assign(buf_, head_, std::min(len, max_length));
            consume(nl + 1 - head_);
            co_return too_long ? error_code(asio::error::message_size) : error_code{};
        }
        if (buf_.size() - head_ > max_length + 1) {
            line.assign(buf_, head_, max_length);
            skipping_ = true;
            consume(buf_.size() - head_);
            co_return asio::error::message_size;
        }
        error_code ec = co_await read_some(deadline);
        if (ec) co_return ec;
    }
}

awaitable<error_code> LineStream::write(std::string_view data, Duration timeout) {
    Pair r;
    if (tls_)
        r = co_await timed(asio::async_write(*tls_, asio::buffer(data), use_tuple), timeout);
    else
        r = co_await timed(asio::async_write(sock_, asio::buffer(data), use_tuple), timeout);
    co_return std::get<0>(r);
}

std::size_t LineStream::discard_buffered() {
    std::size_t n = buf_.size() - head_;
    buf_.clear();
    head_ = 0;
    skipping_ = false;
    return n;
}

awaitable<error_code> LineStream::handshake_client(asio::ssl::context& ctx,
                                                   const std::function<bool(SSL*)>& prepare,
                                                   Duration timeout) {
    discard_buffered();
    tls_.emplace(std::move(sock_), ctx);
    if (prepare && !prepare(tls_->native_handle()))
        co_return asio::ssl::error::unspecified_system_error;
    auto [ec, n] = co_await timed(
        without_size(tls_->async_handshake(asio::ssl::stream_base::client, use_tuple)), timeout);
    co_return ec;
}

awaitable<error_code> LineStream::handshake_server(asio::ssl::context& ctx, Duration timeout) {
    discard_buffered();
    tls_.emplace(std::move(sock_), ctx);
    auto [ec, n] = co_await timed(
        without_size(tls_->async_handshake(asio::ssl::stream_base::server, use_tuple)), timeout);
    co_return ec;
}

void LineStream::close() {
    error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
    timer_.cancel();
}

}  // namespace dr::smtp
