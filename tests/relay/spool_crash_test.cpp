// kill -9 at random instants: a child process commits, updates and removes messages on four
// threads and reports each call that returned; the parent SIGKILLs it, reopens the spool and
// checks that recovery yields exactly the acknowledged messages with their latest states (or
// the one step that was in flight), round after round on the same spool.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "spool_test_util.hpp"

namespace dr::relay {
namespace {

using testing::TempDir;

constexpr int kThreads = 4;
constexpr int kLastStep = 3;  // then removed, for half of the messages

bool removable(const std::string& id) {
    return std::hash<std::string>{}(id) % 2 == 0;
}

// Recipient states after `step` updates; the sequence every child follows.
std::vector<RcptState> states_after(int step) {
    std::vector<RcptState> s(2);
    if (step >= 1) s[0] = testing::deferred(1, "Connection refused");
    if (step >= 2)
        s[0] = testing::deferred(2, "Server certificate not verified"),
        s[1] = testing::delivered(1);
    if (step >= 3) s[0] = testing::delivered(3);
    return s;
}

void ack(int fd, const std::string& line) {
    // One write per line, shorter than PIPE_BUF: lines from threads never interleave.
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(3);
}

[[noreturn]] void child(const std::string& dir, int fd, unsigned seed) {
    std::error_code ec;
    auto spool = Spool::open({dir, 0}, ec);
    if (!spool) ::_exit(2);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            std::mt19937 rng(seed + t);
            while (true) {
                std::string body(rng() % 150000, 'a' + t);
                auto r = spool->commit(testing::sample_envelope(2), body);
                if (r.ec) ::_exit(4);
                ack(fd, "C " + r.id + "\n");
                for (int step = 1; step <= kLastStep; ++step) {
                    auto want = states_after(step);
                    if (spool->update(r.id, {{0, want[0]}, {1, want[1]}})) ::_exit(5);
                    ack(fd, "U " + r.id + " " + std::to_string(step) + "\n");
                }
                if (removable(r.id)) {
                    if (spool->remove(r.id)) ::_exit(6);
                    ack(fd, "R " + r.id + "\n");
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    ::_exit(0);
}

// Reads acknowledgements until the deadline, then kills the child and drains the pipe.
std::string run_and_kill(pid_t pid, int fd, std::chrono::milliseconds after) {
    std::string acks;
    char buf[4096];
    auto deadline = std::chrono::steady_clock::now() + after;
    bool killed = false;
    while (true) {
        if (!killed && std::chrono::steady_clock::now() >= deadline) {
            ::kill(pid, SIGKILL);
            killed = true;
        }
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, 5);
        if (!(p.revents & (POLLIN | POLLHUP))) continue;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) acks.append(buf, static_cast<std::size_t>(n));
        if (n == 0 && killed) break;
        if (n == 0) {  // child died on its own: a failure the status below reports
            ::kill(pid, SIGKILL);
            killed = true;
        }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child exited by itself, status " << status;
    return acks;
}

// Latest acknowledged step per message: 0 committed, 1..3 updated, 4 removed.
std::map<std::string, int> parse_acks(const std::string& acks) {
    std::map<std::string, int> out;
    std::istringstream in(acks);
    std::string kind, id;
    while (in >> kind >> id) {
        if (kind == "C") out[id] = 0;
        if (kind == "U") in >> out[id];
        if (kind == "R") out[id] = kLastStep + 1;
    }
    return out;
}

int observed_step(const MessageInfo& m) {
    for (int step = kLastStep; step > 0; --step) {
        if (m.rcpts == states_after(step)) return step;
    }
    return m.rcpts == states_after(0) ? 0 : -1;
}

TEST(SpoolCrash, KillNineAtRandomInstants) {
    TempDir tmp;
    std::map<std::string, int> model;  // what survived earlier rounds, never touched again
    std::mt19937 rng(12345);
    std::size_t total_acked = 0, in_flight_seen = 0;
    for (int round = 0; round < 15; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        int fds[2];
        ASSERT_EQ(::pipe(fds), 0);
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::close(fds[0]);
            child(tmp.path(), fds[1], 1000 * round);
        }
        ::close(fds[1]);
        auto acks =
            parse_acks(run_and_kill(pid, fds[0], std::chrono::milliseconds(30 + rng() % 300)));
        ::close(fds[0]);
        total_acked += acks.size();

        auto spool = testing::open_spool(tmp.path());
        ASSERT_TRUE(spool);
        EXPECT_TRUE(spool->recovery().corrupt.empty());
        std::map<std::string, int> found;
        for (const auto& m : spool->list()) found[m.id] = observed_step(m);

        for (const auto& [id, step] : model) {  // older rounds: exactly as they were
            ASSERT_TRUE(found.count(id)) << id;
            EXPECT_EQ(found[id], step) << id;
        }
        int unacked = 0;
        for (const auto& [id, step] : found) {
            if (model.count(id)) continue;
            auto it = acks.find(id);
            if (it == acks.end()) {
                // Committed but killed before the 250 was reported: must be untouched.
                ++unacked;
                EXPECT_EQ(step, 0) << id;
                continue;
            }
            // Either the acknowledged step or the one in flight when the kill came.
            EXPECT_TRUE(step == it->second || step == it->second + 1) << id << " " << step;
            in_flight_seen += step != it->second;
        }
        EXPECT_LE(unacked, kThreads);
        for (const auto& [id, step] : acks) {
            bool may_vanish = step == kLastStep + 1 || (step == kLastStep && removable(id));
            if (!may_vanish) {
                EXPECT_TRUE(found.count(id)) << "acknowledged message lost: " << id;
            }
            if (step == kLastStep + 1) {
                EXPECT_FALSE(found.count(id)) << "removed came back: " << id;
            }
        }
        model = found;
    }
    std::printf(
        "crash test: %zu acknowledged messages, %zu in-flight steps found applied, "
        "%zu messages left\n",
        total_acked, in_flight_seen, model.size());
    EXPECT_GT(total_acked, 15u);
}

}  // namespace
}  // namespace dr::relay
