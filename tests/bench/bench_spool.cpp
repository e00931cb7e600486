// bench_spool: commits per second into a spool on the local disk, 4 KiB bodies, with 1 and with
// 50 concurrent committers (threads calling Spool::commit), then 50 coroutines on one io_context
// committing through AsyncSpool (the SMTP server's path). Not a test; see relay/spool/SPOOL.md.
// Usage: bench_spool [DIR] [SECONDS]  (DIR defaults to ./bench-spool, removed afterwards)
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "relay/spool/async_spool.hpp"
#include "relay/spool/spool.hpp"

namespace {

namespace asio = boost::asio;
using dr::relay::QueuedEnvelope;
using dr::relay::Spool;
using Clock = std::chrono::steady_clock;

const std::string kBody(4096, 'x');

QueuedEnvelope sample_envelope() {
    QueuedEnvelope env;
    env.sender = "bench@example.org";
    env.client_name = "localhost";
    env.client_addr = "127.0.0.1";
    env.recipients.push_back({"user@example.net", "", ""});
    return env;
}

struct Counts {
    std::atomic<long> done{0}, failed{0};
};

void threads_committing(Spool& spool, int n, Clock::time_point end, Counts& c) {
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
        threads.emplace_back([&] {
            while (Clock::now() < end)
                (spool.commit(sample_envelope(), kBody).ec ? c.failed : c.done)++;
        });
    }
    for (auto& t : threads) t.join();
}

void coroutines_committing(Spool& spool, int n, Clock::time_point end, Counts& c) {
    dr::relay::AsyncSpool async(spool, 16);
    asio::io_context io;
    for (int i = 0; i < n; ++i) {
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                while (Clock::now() < end) {
                    QueuedEnvelope env = sample_envelope();
                    std::string body = kBody;
                    auto r = co_await async.async_commit(std::move(env), std::move(body),
                                                         asio::use_awaitable);
                    (r.ec ? c.failed : c.done)++;
                }
            },
            asio::detached);
    }
    io.run();
}

using Runner = std::function<void(Spool&, int, Clock::time_point, Counts&)>;

void run(const char* label, const Runner& runner, const std::string& dir, int n, double seconds) {
    std::filesystem::remove_all(dir);
    std::error_code ec;
    auto spool = Spool::open({dir, 0}, ec);
    if (!spool) {
        std::fprintf(stderr, "bench_spool: open %s: %s\n", dir.c_str(), ec.message().c_str());
        std::exit(1);
    }
    Counts c;
    auto start = Clock::now();
    runner(
        *spool, n,
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)),
        c);
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (c.failed) std::fprintf(stderr, "bench_spool: %ld commits failed\n", c.failed.load());
    std::printf("%2d %-28s %7ld commits, %6llu directory fsyncs, %8.1f commits/s\n", n, label,
                c.done.load(), static_cast<unsigned long long>(spool->dir_fsyncs()),
                static_cast<double>(c.done) / elapsed);
    spool.reset();
    std::filesystem::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
    std::string dir = argc > 1 ? argv[1] : "bench-spool";
    double seconds = argc > 2 ? std::atof(argv[2]) : 5.0;
    run("committer thread", threads_committing, dir, 1, seconds);
    run("committer threads", threads_committing, dir, 50, seconds);
    run("coroutines via AsyncSpool(16)", coroutines_committing, dir, 50, seconds);
    return 0;
}
