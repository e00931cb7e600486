// bench_spool: commits per second into a spool on the local disk, with 1 and with 50 concurrent
// committers (threads calling Spool::commit), 4 KiB bodies. Not a test; see relay/SPOOL.md.
// Usage: bench_spool [DIR] [SECONDS]  (DIR defaults to ./bench-spool, removed afterwards)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "relay/spool.hpp"

namespace {

using dr::relay::Envelope;

Envelope sample_envelope() {
    Envelope env;
    env.sender = "bench@example.org";
    env.client_name = "localhost";
    env.client_addr = "127.0.0.1";
    env.recipients.push_back({"user@example.net", "", ""});
    return env;
}

double run(const std::string& dir, int committers, double seconds) {
    std::filesystem::remove_all(dir);
    std::error_code ec;
    auto spool = dr::relay::Spool::open({dir, 0}, ec);
    if (!spool) {
        std::fprintf(stderr, "bench_spool: open %s: %s\n", dir.c_str(), ec.message().c_str());
        std::exit(1);
    }
    const std::string body(4096, 'x');
    std::atomic<bool> stop{false};
    std::atomic<long> done{0}, failed{0};
    std::vector<std::thread> threads;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < committers; ++i) {
        threads.emplace_back([&] {
            while (!stop) {
                auto r = spool->commit(sample_envelope(), body);
                (r.ec ? failed : done)++;
            }
        });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& t : threads) t.join();
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (failed) std::fprintf(stderr, "bench_spool: %ld commits failed\n", failed.load());
    std::printf("%2d committer%s: %ld commits, %llu directory fsyncs, ", committers,
                committers == 1 ? " " : "s", done.load(),
                static_cast<unsigned long long>(spool->dir_fsyncs()));
    spool.reset();
    std::filesystem::remove_all(dir);
    return static_cast<double>(done) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
    std::string dir = argc > 1 ? argv[1] : "bench-spool";
    double seconds = argc > 2 ? std::atof(argv[2]) : 5.0;
    for (int n : {1, 50}) {
        double rate = run(dir, n, seconds);
        std::printf("%.1f commits/s\n", rate);
    }
    return 0;
}
