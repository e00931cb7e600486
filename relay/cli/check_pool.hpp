// The one loop that runs check_domain() over many domains, shared by `check`,
// `check --survey` and `monitor`: first the resolver must prove it validates
// DNSSEC, then at most `concurrency` domains are checked at once, each handed
// to `done` as it finishes. Entry point: start_checks(). Everything runs on the
// io_context's one thread: `next` and `done` are never called concurrently.
#pragma once

#include <boost/asio/any_io_executor.hpp>
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
};

// A CheckPool::next over `domains` in order, index = position; `domains` must outlive it.
std::function<std::optional<CheckJob>()> each_of(const std::vector<std::string>& domains);

// Spawns the checks on `ex`; they are over when the io_context runs out of work.
// `pool` must outlive them.
void start_checks(asio::any_io_executor ex, CheckPool& pool);

}  // namespace dr::relay
