// See check_pool.hpp.
#include "relay/cli/check_pool.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <random>

namespace dr::relay {
namespace {

asio::awaitable<void> worker(CheckPool& pool) {
    std::random_device rd;
    while (auto job = pool.next()) {
        DomainReport r = co_await check_domain(pool.resolver, pool.policy, pool.tls, pool.options,
                                               job->domain, rd());
        pool.done(*job, std::move(r));
    }
}

asio::awaitable<void> validate_then_spawn(CheckPool& pool) {
    try {
        co_await pool.resolver.ensure_validating();
    } catch (const dane::ResolverError& e) {
        pool.error = e.what();
        co_return;
    }
    auto ex = co_await asio::this_coro::executor;
    for (unsigned i = 0; i < pool.concurrency; ++i)
        asio::co_spawn(ex, worker(pool), asio::detached);
}

}  // namespace

std::function<std::optional<CheckJob>()> each_of(const std::vector<std::string>& domains) {
    return [&domains, i = std::size_t{0}]() mutable -> std::optional<CheckJob> {
        if (i == domains.size()) return std::nullopt;
        ++i;
        return CheckJob{i - 1, domains[i - 1]};
    };
}

void start_checks(asio::any_io_executor ex, CheckPool& pool) {
    asio::co_spawn(ex, validate_then_spawn(pool), asio::detached);
}

}  // namespace dr::relay
