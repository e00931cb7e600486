// queue_fill: writes N small queue files straight into a stopped spool's queue/, in the spool's
// own format (relay/spool/format.hpp), each with one recipient already deferred (one status
// record, next attempt an hour away), as a relay that has been trying a dead destination for a
// while would hold them. Not a test: the queue_bench script uses it to reach a million queued
// messages in seconds, because injecting them over SMTP (two fsyncs each) takes many minutes.
// It fsyncs nothing per file and calls syncfs(2) once at the end.
// Usage: queue_fill SPOOL_DIR COUNT RECIPIENT_DOMAIN [THREADS]
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "relay/spool/format.hpp"
#include "relay/spool/queue_id.hpp"

namespace {

using namespace dr::relay;

std::int64_t now_us() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

// The bytes of one queue file: magic, body, envelope, one deferral.
std::string queue_file(const std::string& domain, long n, std::int64_t now) {
    std::string body = "Subject: queue bench\r\n\r\nmessage " + std::to_string(n) + "\r\n";
    QueuedEnvelope env;
    env.sender = "bench@relay.test";
    env.arrival_us = now;
    env.client_name = "localhost";
    env.client_addr = "127.0.0.1";
    env.helo = "bench";
    env.recipients.push_back({"user" + std::to_string(n) + "@" + domain, "", ""});
    RcptState st;
    st.status = RcptStatus::deferred;
    st.attempts = 1;
    st.next_attempt_us = now + std::int64_t{3600} * 1000000;
    st.dsn = "4.4.1";
    st.reason = "connect to mx." + domain + "[127.0.9.9]:25: Connection refused";
    std::string out(kSpoolMagic);
    out += encode_record(RecordType::body, body);
    out += encode_record(RecordType::envelope, encode_envelope(env));
    out += encode_record(RecordType::status, encode_status({{0, st}}));
    return out;
}

bool write_one(int dir, const std::string& id, const std::string& data) {
    int fd = ::openat(dir, id.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
    return ::close(fd) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: queue_fill SPOOL_DIR COUNT RECIPIENT_DOMAIN [THREADS]\n");
        return 2;
    }
    const std::string dir = std::string(argv[1]) + "/queue";
    const long count = std::atol(argv[2]);
    const std::string domain = argv[3];
    const int threads = argc > 4 ? std::atoi(argv[4]) : 4;
    ::mkdir(argv[1], 0700);
    ::mkdir(dir.c_str(), 0700);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        std::perror(dir.c_str());
        return 1;
    }
    std::atomic<long> next{0}, failed{0};
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
            QueueIdGenerator ids;
            const auto now = now_us();
            for (long n; (n = next++) < count;) {
                const auto data = queue_file(domain, n, now);
                while (!write_one(dfd, ids.next(), data))
                    if (errno != EEXIST) {  // another thread's ID: take the next one
                        ++failed;
                        break;
                    }
            }
        });
    for (auto& t : pool) t.join();
    ::syncfs(dfd);
    ::close(dfd);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%ld files in %.1f s (%.0f/s), %ld failed\n", count, s, count / s, failed.load());
    return failed ? 1 : 0;
}
