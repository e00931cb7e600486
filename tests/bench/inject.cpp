// bench_inject: an SMTP load generator for the benchmarks (tests/bench/relay_vs_postfix).
// C connections (spread over one or more servers) send M messages of S bytes, one
// recipient each, user<i>@<domain i mod D>; MAIL, RCPT and DATA are pipelined, and the
// end of one body goes in the same write as the next envelope (RFC 2920). Optional
// STARTTLS (the server's certificate is not checked: this is a load generator).
// Prints its own rate and CPU, and with --json one JSON line for scripts.
//   bench_inject --server HOST:PORT [--server ...] [--messages M] [--size S] [--conns C]
//                [--domains a.test,b.test,...] [--starttls] [--threads N] [--json]
#include <sys/resource.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

struct Options {
    std::vector<std::pair<std::string, std::string>> servers;  // host, port
    std::vector<std::string> domains{"example.test"};
    long messages = 5000;
    long size = 10 * 1024;
    int conns = 20;
    int threads = 1;
    bool starttls = false;
    bool json = false;
};

struct Stats {
    std::atomic<long> accepted{0}, rejected{0}, failed_conns{0}, tls_sessions{0};
    std::atomic<long> last_accept_ns{0};
};

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::size_t from = 0;
    while (from <= s.size()) {
        auto to = s.find(sep, from);
        if (to == std::string::npos) to = s.size();
        if (to > from) out.push_back(s.substr(from, to - from));
        from = to + 1;
    }
    return out;
}

std::optional<Options> parse_args(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::optional<std::string> {
            if (i + 1 >= argc) return std::nullopt;
            return std::string(argv[++i]);
        };
        if (a == "--starttls") {
            o.starttls = true;
        } else if (a == "--json") {
            o.json = true;
        } else if (auto v = value(); !v) {
            return std::nullopt;
        } else if (a == "--server") {
            auto colon = v->rfind(':');
            if (colon == std::string::npos) return std::nullopt;
            o.servers.emplace_back(v->substr(0, colon), v->substr(colon + 1));
        } else if (a == "--domains") {
            o.domains = split(*v, ',');
        } else if (a == "--messages") {
            o.messages = std::atol(v->c_str());
        } else if (a == "--size") {
            o.size = std::atol(v->c_str());
        } else if (a == "--conns") {
            o.conns = std::atoi(v->c_str());
        } else if (a == "--threads") {
            o.threads = std::atoi(v->c_str());
        } else {
            return std::nullopt;
        }
    }
    if (o.servers.empty() || o.domains.empty() || o.conns < 1 || o.threads < 1) return std::nullopt;
    return o;
}

// About `size` bytes of header and 76-character lines, CRLF-terminated, then the dot.
std::string make_body(long size) {
    std::string body = "From: bench@relay.test\r\nSubject: bench\r\n\r\n";
    const std::string line = std::string(76, 'x') + "\r\n";
    while (static_cast<long>(body.size() + line.size()) <= size) body += line;
    body += ".\r\n";
    return body;
}

// One SMTP connection: a TCP socket, later wrapped in TLS after STARTTLS.
class Conn {
  public:
    Conn(asio::any_io_executor ex, ssl::context& tls) : stream_(tcp::socket(ex), tls) {}

    asio::awaitable<error_code> connect(const std::string& host, const std::string& port) {
        tcp::resolver resolver(stream_.get_executor());
        // (No structured bindings across a co_await: GCC 12 loses them.)
        auto resolved = co_await resolver.async_resolve(host, port, use_tuple);
        if (std::get<0>(resolved)) co_return std::get<0>(resolved);
        auto connected =
            co_await asio::async_connect(stream_.next_layer(), std::get<1>(resolved), use_tuple);
        if (!std::get<0>(connected)) stream_.next_layer().set_option(tcp::no_delay(true));
        co_return std::get<0>(connected);
    }

    asio::awaitable<error_code> handshake() {
        auto r = co_await stream_.async_handshake(ssl::stream_base::client, use_tuple);
        tls_ = !std::get<0>(r);
        co_return std::get<0>(r);
    }

    // (GCC 12 miscompiles co_await inside ?: and &&/||: plain statements only here.)
    // (Arguments by value: the coroutine frame owns them.)
    asio::awaitable<error_code> write(std::string data) {
        std::tuple<error_code, std::size_t> r;
        if (tls_)
            r = co_await asio::async_write(stream_, asio::buffer(data), use_tuple);
        else
            r = co_await asio::async_write(stream_.next_layer(), asio::buffer(data), use_tuple);
        co_return std::get<0>(r);
    }

    // The reply code of the next (possibly multi-line) reply, or -1; its text in `text`.
    asio::awaitable<int> reply(std::string* text = nullptr) {
        for (;;) {
            auto buf = asio::dynamic_buffer(storage_);
            std::tuple<error_code, std::size_t> r;
            if (tls_)
                r = co_await asio::async_read_until(stream_, buf, "\r\n", use_tuple);
            else
                r = co_await asio::async_read_until(stream_.next_layer(), buf, "\r\n", use_tuple);
            auto [ec, n] = r;
            if (ec || n < 5) co_return -1;
            std::string line = storage_.substr(0, n);
            storage_.erase(0, n);
            if (text) *text += line;
            if (line[3] == ' ') co_return std::atoi(line.substr(0, 3).c_str());
        }
    }

    asio::awaitable<int> command(std::string line, std::string* text = nullptr) {
        error_code ec = co_await write(std::move(line));
        if (ec) co_return -1;
        int code = co_await reply(text);
        co_return code;
    }

    bool reused() { return SSL_session_reused(stream_.native_handle()) == 1; }

  private:
    ssl::stream<tcp::socket> stream_;
    std::string storage_;
    bool tls_ = false;
};

std::string envelope(long i, const Options& o) {
    std::string e = "MAIL FROM:<bench@relay.test>\r\nRCPT TO:<user";
    e += std::to_string(i);
    e += "@";
    e += o.domains[i % o.domains.size()];
    e += ">\r\nDATA\r\n";
    return e;
}

// EHLO, optionally STARTTLS and EHLO again; the server must offer PIPELINING.
asio::awaitable<bool> greet(Conn& c, const Options& o) {
    if (co_await c.reply() != 220) co_return false;
    std::string ehlo;
    if (co_await c.command("EHLO inject.relay.test\r\n", &ehlo) != 250) co_return false;
    if (o.starttls) {
        if (co_await c.command("STARTTLS\r\n") != 220) co_return false;
        if (co_await c.handshake()) co_return false;
        ehlo.clear();
        if (co_await c.command("EHLO inject.relay.test\r\n", &ehlo) != 250) co_return false;
    }
    co_return ehlo.find("PIPELINING") != std::string::npos;
}

// Reads the MAIL, RCPT and DATA replies of one envelope: true if DATA got its 354.
asio::awaitable<bool> envelope_replies(Conn& c) {
    int mail = co_await c.reply(), rcpt = co_await c.reply(), data = co_await c.reply();
    co_return mail == 250 && rcpt == 250 && data == 354;
}

// Sends messages k, k+C, k+2C, ... on one connection: each write carries the end of
// one message (its body, or RSET if its envelope failed) and the next envelope.
asio::awaitable<void> sender(int k, const Options& o, const std::string& body, ssl::context& tls,
                             Stats& st, std::chrono::steady_clock::time_point t0) {
    Conn c(co_await asio::this_coro::executor, tls);
    const auto& server = o.servers[k % o.servers.size()];
    bool up = !co_await c.connect(server.first, server.second);
    if (up) up = co_await greet(c, o);
    if (!up) {
        ++st.failed_conns;
        co_return;
    }
    if (o.starttls) ++st.tls_sessions;
    long i = k;
    bool lost = false;
    if (i < o.messages) lost = static_cast<bool>(co_await c.write(envelope(i, o)));
    for (; !lost && i < o.messages; i += o.conns) {
        bool go = co_await envelope_replies(c);
        std::string out = go ? body : std::string("RSET\r\n");
        if (i + o.conns < o.messages) out += envelope(i + o.conns, o);
        int done = -1;
        if (!co_await c.write(out)) done = co_await c.reply();
        if ((lost = done < 0)) break;
        if (!go || done != 250) {
            ++st.rejected;
            continue;
        }
        ++st.accepted;
        st.last_accept_ns = (std::chrono::steady_clock::now() - t0).count();
    }
    if (lost) ++st.failed_conns;
    co_await c.command("QUIT\r\n");
}

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void print(const Options& o, const Stats& st, double seconds, double cpu) {
    long acc = st.accepted;
    double rate = seconds > 0 ? static_cast<double>(acc) / seconds : 0;
    double per = acc ? 1000 * cpu / static_cast<double>(acc) : 0;
    if (o.json) {
        std::printf(
            "{\"messages\": %ld, \"accepted\": %ld, \"rejected\": %ld, \"failed_conns\": %ld, "
            "\"tls_sessions\": %ld, \"seconds\": %.3f, \"msgs_per_s\": %.1f, \"cpu_s\": %.3f, "
            "\"cpu_ms_per_msg\": %.3f}\n",
            o.messages, acc, st.rejected.load(), st.failed_conns.load(), st.tls_sessions.load(),
            seconds, rate, cpu, per);
        return;
    }
    std::printf("%10s %9s %8s %9s %8s %8s %11s\n", "accepted", "rejected", "bad conn", "seconds",
                "msgs/s", "CPU s", "CPU-ms/msg");
    std::printf("%10ld %9ld %8ld %9.2f %8.0f %8.2f %11.3f\n", acc, st.rejected.load(),
                st.failed_conns.load(), seconds, rate, cpu, per);
}

}  // namespace

int main(int argc, char** argv) {
    auto o = parse_args(argc, argv);
    if (!o) {
        std::fprintf(stderr,
                     "usage: bench_inject --server HOST:PORT [--server ...] [--messages M] "
                     "[--size S] [--conns C] [--domains a,b,...] [--starttls] [--threads N] "
                     "[--json]\n");
        return 2;
    }
    asio::io_context io(o->threads);
    ssl::context tls(ssl::context::tls_client);
    tls.set_verify_mode(ssl::verify_none);
    const std::string body = make_body(o->size);
    Stats st;
    double cpu0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < o->conns; ++k)
        asio::co_spawn(io, sender(k, *o, body, tls, st, t0), asio::detached);
    std::vector<std::thread> extra;
    for (int t = 1; t < o->threads; ++t) extra.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : extra) t.join();
    print(*o, st, static_cast<double>(st.last_accept_ns) / 1e9, cpu_seconds() - cpu0);
    return st.accepted == o->messages ? 0 : 1;
}
