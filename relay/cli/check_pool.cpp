// See check_pool.hpp.
#include "relay/cli/check_pool.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

#include "relay/spool/off_loop.hpp"

namespace dr::relay {
namespace {

using MaybeJob = std::optional<CheckJob>;

asio::awaitable<MaybeJob> next_job(CheckPool& pool) {
    if (!pool.next_on) co_return pool.next();
    auto fn = [&pool] { return pool.next(); };
    MaybeJob job = co_await off_loop<MaybeJob>(*pool.next_on, std::move(fn), asio::use_awaitable);
    co_return job;
}

asio::awaitable<void> hand_over(CheckPool& pool, CheckJob job, DomainReport r) {
    if (!pool.done_on) {
        pool.done(job, std::move(r));
        co_return;
    }
    // Awaited, so that each worker has at most one line waiting to be written.
    auto fn = [&pool, job = std::move(job), r = std::move(r)]() mutable {
        pool.done(job, std::move(r));
        return true;
    };
    co_await off_loop<bool>(*pool.done_on, std::move(fn), asio::use_awaitable);
}

asio::awaitable<void> worker(CheckPool& pool) {
    std::random_device rd;
    for (;;) {
        MaybeJob job = co_await next_job(pool);
        if (!job) break;
        DomainReport r = co_await check_domain(pool.resolver, pool.policy, pool.tls, pool.options,
                                               job->domain, rd());
        co_await hand_over(pool, std::move(*job), std::move(r));
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
