// The one loop that runs check_domain() over many domains, shared by `check`,
// `check --survey` and `monitor`: first the resolver must prove it validates
// DNSSEC, then at most `concurrency` domains are checked at once, each handed
// to `done` as it finishes. Entry point: start_checks(). The checks run on the
// io_context's one thread; `next` and `done` run there too, unless the pool names a
// thread pool for them (`next_on`, `done_on`: a survey's file reads and writes), and
// each is never called concurrently with itself.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "relay/cli/check.hpp"

namespace dr::relay {

struct CheckJob {
    std::size_t index = 0;  // the caller's number for it (argument or line number)
    std::string domain;
};

struct CheckPool {
    dane::Resolver& resolver;
    const conf::PolicyConfig& policy;
    asio::ssl::context& tls;
    CheckOptions options;
    unsigned concurrency = 32;
    std::function<std::optional<CheckJob>()> next;  // nullopt: nothing more to check
    std::function<void(const CheckJob&, DomainReport)> done;
    // Set when the resolver cannot validate DNSSEC: then nothing was checked.
    std::string error;
    // Where next and done run when they block (on files): a pool of one thread each, so
    // a stalled list never holds up the checks in flight or the lines they write.
    asio::thread_pool* next_on = nullptr;
    asio::thread_pool* done_on = nullptr;
};

// A CheckPool::next over `domains` in order, index = position; `domains` must outlive it.
std::function<std::optional<CheckJob>()> each_of(const std::vector<std::string>& domains);

// Spawns the checks on `ex`; they are over when the io_context runs out of work.
// `pool` must outlive them.
void start_checks(asio::any_io_executor ex, CheckPool& pool);

}  // namespace dr::relay
