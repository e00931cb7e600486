// bench_null_smtp: an SMTP server that accepts and discards everything, as fast as it
// can, to measure bench_inject's own ceiling. Plain text only (no STARTTLS), offers
// PIPELINING, answers every pipelined command in order, 250 to each message.
//   bench_null_smtp HOST PORT        (runs until killed)
#include <boost/asio.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

// The reply to one command line (without CRLF); "" for DATA, whose 354 the caller sends.
std::string_view reply_to(std::string_view line) {
    auto verb = line.substr(0, 4);
    if (verb == "EHLO" || verb == "ehlo")
        return "250-null.bench\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 0\r\n";
    if (verb == "QUIT" || verb == "quit") return "221 bye\r\n";
    return "250 ok\r\n";
}

bool is_data(std::string_view line) {
    return line == "DATA" || line == "data";
}

// Reads commands and bodies; replies are flushed once no complete input is left.
asio::awaitable<void> session(tcp::socket s) {
    std::string in, out = "220 null.bench ESMTP\r\n";
    bool quit = false;
    auto buf = asio::dynamic_buffer(in);
    while (!quit) {
        if (!out.empty() && in.find("\r\n") == std::string::npos) {
            auto [ec, n] = co_await asio::async_write(s, asio::buffer(out), use_tuple);
            if (ec) co_return;
            out.clear();
        }
        auto [ec, n] = co_await asio::async_read_until(s, buf, "\r\n", use_tuple);
        if (ec) co_return;
        std::string line = in.substr(0, n - 2);
        in.erase(0, n);
        if (!is_data(line)) {
            out += reply_to(line);
            quit = line.starts_with("QUIT") || line.starts_with("quit");
            continue;
        }
        out += "354 go on\r\n";
        if (in.find("\r\n.\r\n") == std::string::npos && !in.starts_with(".\r\n")) {
            auto [ec1, w] = co_await asio::async_write(s, asio::buffer(out), use_tuple);
            if (ec1) co_return;
            out.clear();
        }
        if (!in.starts_with(".\r\n")) {
            auto [ec2, m] = co_await asio::async_read_until(s, buf, "\r\n.\r\n", use_tuple);
            if (ec2) co_return;
            in.erase(0, m);
        } else {
            in.erase(0, 3);
        }
        out += "250 2.0.0 discarded\r\n";
    }
    co_await asio::async_write(s, asio::buffer(out), use_tuple);
}

asio::awaitable<void> listen(tcp::acceptor& acceptor) {
    for (;;) {
        auto [ec, s] = co_await acceptor.async_accept(use_tuple);
        if (ec) continue;
        s.set_option(tcp::no_delay(true));
        asio::co_spawn(acceptor.get_executor(), session(std::move(s)), asio::detached);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: bench_null_smtp HOST PORT\n");
        return 2;
    }
    asio::io_context io(1);
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(argv[1], ec);
    if (ec) {
        std::fprintf(stderr, "bench_null_smtp: bad address %s\n", argv[1]);
        return 2;
    }
    tcp::acceptor acceptor(io,
                           tcp::endpoint(addr, static_cast<unsigned short>(std::atoi(argv[2]))));
    asio::co_spawn(io, listen(acceptor), asio::detached);
    io.run();
}
