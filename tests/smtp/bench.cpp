// Benchmark (not a test; issue 3): messages per second through the server session into a null
// sink, sent by our client session over C concurrent connections, and the server's resident
// memory per idle connection. The server runs in a forked child so its RSS is measured alone.
//   smtp_bench [--messages N] [--size BYTES] [--connections C] [--idle I] [--tls]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "smtp/client_session.hpp"
#include "smtp/server_session.hpp"

using namespace dr::smtp;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
    int messages = 10000;
    std::size_t size = 10 * 1024;
    int connections = 50;
    int idle = 1000;
    bool tls = false;
};

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        std::string k = argv[i];
        auto next = [&] { return i + 1 < argc ? std::atol(argv[++i]) : 0; };
        if (k == "--messages")
            a.messages = static_cast<int>(next());
        else if (k == "--size")
            a.size = static_cast<std::size_t>(next());
        else if (k == "--connections")
            a.connections = static_cast<int>(next());
        else if (k == "--idle")
            a.idle = static_cast<int>(next());
        else if (k == "--tls")
            a.tls = true;
    }
    return a;
}

// CPU seconds (user + system) used so far by a process, from /proc/<pid>/stat.
double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto pos = stat.rfind(')');
    if (pos == std::string::npos) return 0;
    std::istringstream fields(stat.substr(pos + 2));
    std::string skip;
    for (int i = 0; i < 11; ++i) fields >> skip;  // state .. cmajflt
    double utime = 0, stime = 0;
    fields >> utime >> stime;
    return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    return -1;
}

class NullSink : public MessageSink {
    class Writer : public MessageWriter {
      public:
        awaitable<bool> write(std::string_view) override { co_return true; }
        awaitable<SinkResult> commit() override { co_return SinkResult{true, "NULL"}; }
        void abort() override {}
    };

  public:
    awaitable<std::unique_ptr<MessageWriter>> open(const ClientInfo&, const Envelope&) override {
        co_return std::make_unique<Writer>();
    }
};

void make_cert(const std::string& dir) {
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
        "-subj /CN=bench -keyout " +
        dir + "/key.pem -out " + dir + "/cert.pem 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) std::exit(2);
}

// The child: accept forever, one ServerSession coroutine per connection.
[[noreturn]] void serve(int port_pipe, const std::string& dir) {
    asio::io_context io;
    asio::ssl::context tls(asio::ssl::context::tls_server);
    tls.use_certificate_chain_file(dir + "/cert.pem");
    tls.use_private_key_file(dir + "/key.pem", asio::ssl::context::pem);
    NullSink sink;
    ServerOptions opt;
    opt.tls = &tls;
    opt.max_message_size = 100 * 1024 * 1024;
    opt.allowed = [](const ClientInfo&) { return true; };
    tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    acceptor.listen(4096);
    unsigned short port = acceptor.local_endpoint().port();
    if (write(port_pipe, &port, sizeof port) != sizeof port) std::_Exit(2);
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
            for (;;) {
                auto s = co_await acceptor.async_accept(asio::use_awaitable);
                asio::co_spawn(
                    io,
                    [&sink, &opt](tcp::socket sock) -> awaitable<void> {
                        ServerSession session(std::move(sock), sink, opt);
                        co_await session.run();
                    }(std::move(s)),
                    asio::detached);
            }
        },
        asio::detached);
    io.run();
    std::_Exit(0);
}

awaitable<void> sender(tcp::endpoint ep, const Args& a, int count, const std::string& message,
                       asio::ssl::context& tls, int& failures) {
    ClientOptions o;
    o.tls = a.tls ? TlsMode::required : TlsMode::none;
    o.tls_context = &tls;
    o.host_name = "bench";
    ClientSession s(co_await asio::this_coro::executor, o);
    auto st = co_await s.open(ep);
    if (!st.ok()) {
        std::fprintf(stderr, "open: %s\n", st.reason.c_str());
        failures += count;
        co_return;
    }
    Envelope e;
    e.sender = "bench@example.org";
    e.recipients = {{"null@example.org", "", ""}};
    for (int i = 0; i < count; ++i) {
        auto r = co_await s.send(e, message);
        if (!r.status.ok() && failures++ == 0)
            std::fprintf(stderr, "send: %s\n", r.status.reason.c_str());
    }
    co_await s.quit();
}

}  // namespace

int main(int argc, char** argv) {
    Args a = parse(argc, argv);
    rlimit lim{20000, 20000};
    setrlimit(RLIMIT_NOFILE, &lim);
    char tmpl[] = "/tmp/dr-smtp-bench-XXXXXX";
    std::string dir = mkdtemp(tmpl);
    make_cert(dir);
    int fds[2];
    if (pipe(fds) != 0) return 2;
    pid_t child = fork();
    if (child == 0) serve(fds[1], dir);
    unsigned short port = 0;
    if (read(fds[0], &port, sizeof port) != sizeof port) return 2;
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);

    // Throughput: `connections` client sessions share `messages`.
    std::string message = "Subject: bench\r\n\r\n";
    while (message.size() < a.size) message += std::string(76, 'x') + "\r\n";
    message.resize(a.size);
    asio::io_context io;
    asio::ssl::context tls(asio::ssl::context::tls_client);
    int failures = 0;
    long rss_start = rss_kib(child);
    double server_cpu = cpu_seconds(child), client_cpu = cpu_seconds(getpid());
    auto start = Clock::now();
    for (int c = 0; c < a.connections; ++c) {
        int count = a.messages / a.connections + (c < a.messages % a.connections ? 1 : 0);
        asio::co_spawn(io, sender(ep, a, count, message, tls, failures), asio::detached);
    }
    io.run();
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    server_cpu = cpu_seconds(child) - server_cpu;
    client_cpu = cpu_seconds(getpid()) - client_cpu;
    std::printf(
        "throughput: %d messages of %zu bytes over %d connections%s in %.2f s: %.0f msg/s, "
        "%.1f MB/s, %d failures; server RSS %ld KiB before, %ld KiB after\n",
        a.messages, a.size, a.connections, a.tls ? " (STARTTLS)" : "", secs, a.messages / secs,
        a.messages * static_cast<double>(a.size) / secs / 1e6, failures, rss_start, rss_kib(child));
    // Wall time depends on what else runs on the machine; CPU time per message much less.
    std::printf("cpu: server %.2f s (%.0f us/msg), client %.2f s (%.0f us/msg)\n", server_cpu,
                server_cpu * 1e6 / a.messages, client_cpu, client_cpu * 1e6 / a.messages);

    // Idle connections: each gets the greeting, then stays silent.
    long before = rss_kib(child);
    asio::io_context idle_io;
    std::vector<tcp::socket> idle;
    for (int i = 0; i < a.idle; ++i) {
        idle.emplace_back(idle_io);
        idle.back().connect(ep);
        asio::streambuf buf;
        asio::read_until(idle.back(), buf, "\r\n");
    }
    usleep(200000);
    long after = rss_kib(child);
    std::printf(
        "idle: %d connections, server RSS %ld KiB -> %ld KiB: %.1f KiB per idle connection\n",
        a.idle, before, after, static_cast<double>(after - before) / a.idle);
    idle.clear();
    kill(child, SIGTERM);
    waitpid(child, nullptr, 0);
    std::system(("rm -rf " + dir).c_str());
    return failures == 0 ? 0 : 1;
}
