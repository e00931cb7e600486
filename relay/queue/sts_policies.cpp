#include "relay/queue/sts_policies.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <utility>

#include "dane/sts_cache.hpp"
#include "relay/spool/off_loop.hpp"
#include "relay/spool/unix_time.hpp"

namespace dr::relay {

namespace {

namespace asio = boost::asio;

// A policy of mode none withdraws MTA-STS (RFC 8461 §8.3): no policy applies.
std::optional<dane::StsPolicy> applying(const dane::StsPolicy& p) {
    if (p.mode == dane::StsMode::none) return std::nullopt;
    return p;
}

}  // namespace

StsPolicies::StsPolicies(dane::Resolver& resolver, asio::thread_pool& pool, std::string cache_dir,
                         dane::StsFetchOptions options)
    : resolver_(resolver), pool_(pool), dir_(std::move(cache_dir)), options_(std::move(options)) {}

// Waiters sleep on `done`, which never expires by itself; cancel() wakes them all.
struct StsPolicies::Flight {
    explicit Flight(const asio::any_io_executor& ex)
        : done(ex, asio::steady_timer::time_point::max()) {}
    asio::steady_timer done;
    StsFound found;
    bool failed = false;  // the lookup threw: waiters look for themselves
};

asio::awaitable<StsFound> StsPolicies::find(std::string domain) {
    if (auto it = flights_.find(domain); it != flights_.end()) {
        auto flight = it->second;
        boost::system::error_code ec;
        co_await flight->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (flight->failed) co_return co_await look(domain);
        StsFound shared = flight->found;
        shared.fetched = false;  // the first caller fetched, if anyone did
        co_return shared;
    }
    auto flight = std::make_shared<Flight>(co_await asio::this_coro::executor);
    flights_[domain] = flight;
    std::exception_ptr error;
    try {
        flight->found = co_await look(domain);
    } catch (...) {
        error = std::current_exception();
        flight->failed = true;
    }
    flights_.erase(domain);
    flight->done.cancel();
    if (error) std::rethrow_exception(error);
    co_return flight->found;
}

asio::awaitable<StsFound> StsPolicies::look(const std::string& domain) {
    auto pending = resolver_.txt("_mta-sts." + domain);
    const auto txt = dane::sts_txt_from(co_await pending.get());
    auto cache = co_await cached(domain);
    const auto now = unix_seconds();
    const auto step = dane::sts_first_step(txt, cache, now);
    StsFound found;
    if (step.what == dane::StsStep::Do::no_policy) {
        found.why = txt.why;
        co_return found;
    }
    if (step.what == dane::StsStep::Do::apply_cached) {
        found.policy = applying(cache->policy);
        found.why = txt.why;
        if (step.confirmed) {  // the same id: the cached policy's max_age counts from now
            cache->fetched = now;
            co_await keep(domain, *cache);
        }
        co_return found;
    }
    auto fetched = co_await fetch(domain);
    auto outcome = dane::sts_after_fetch(txt.id, fetched, cache, now);
    if (outcome.store) co_await keep(domain, std::move(*outcome.store));
    found.policy = std::move(outcome.apply);
    found.failure = std::move(outcome.failure);
    found.why = std::move(outcome.why);
    found.fetched = true;
    co_return found;
}

asio::awaitable<std::optional<dane::StsCached>> StsPolicies::cached(const std::string& domain) {
    if (auto it = memo_.find(domain); it != memo_.end()) co_return it->second;
    if (dir_.empty()) co_return std::nullopt;  // memory only
    auto job = [dir = dir_, domain] { return dane::StsCache(dir).load(domain); };
    auto loaded =
        co_await off_loop<dane::StsCache::Loaded>(pool_, std::move(job), asio::use_awaitable);
    // An unreadable file counts as absent (the cache reported why); it is replaced on store.
    memo_[domain] = loaded.entry;
    co_return loaded.entry;
}

asio::awaitable<void> StsPolicies::keep(const std::string& domain, dane::StsCached entry) {
    memo_[domain] = entry;
    if (dir_.empty()) co_return;
    auto job = [dir = dir_, domain, entry = std::move(entry)] {
        return dane::StsCache(dir).store(domain, entry);
    };
    // A failed write keeps the policy in memory; the next confirmation or fetch writes again.
    (void)co_await off_loop<std::string>(pool_, std::move(job), asio::use_awaitable);
}

asio::awaitable<dane::StsFetch> StsPolicies::fetch(const std::string& domain) {
    const std::string host = "mta-sts." + domain;
    auto a = resolver_.a(host);
    auto aaaa = resolver_.aaaa(host);
    auto options = options_;
    options.addresses.clear();
    for (auto* p : {&a, &aaaa}) {
        auto l = co_await p->get();
        if (!l.ok()) continue;
        for (const auto& ip : l.records) options.addresses.push_back(ip.to_string());
    }
    if (options.addresses.empty()) {
        co_return dane::StsFetch{dane::StsFetch::Kind::fetch_error, {}, "no address for " + host};
    }
    auto job = [domain, options = std::move(options)] {
        return dane::fetch_sts_policy(domain, options);
    };
    co_return co_await off_loop<dane::StsFetch>(pool_, std::move(job), asio::use_awaitable);
}

}  // namespace dr::relay
