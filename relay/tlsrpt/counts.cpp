#include "relay/tlsrpt/counts.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "relay/spool/off_loop.hpp"
#include "relay/spool/unix_time.hpp"

namespace dr::relay::tlsrpt {

namespace asio = boost::asio;

Counts::Counts(asio::any_io_executor ex, asio::thread_pool& pool, std::string dir, Logger& log,
               std::chrono::seconds flush_every)
    : ex_(ex),
      pool_(pool),
      store_(std::move(dir)),
      log_(log),
      flush_every_(flush_every),
      timer_(ex) {}

void Counts::start() {
    const auto day = utc_day(unix_seconds());
    auto loaded = store_.load(day);
    if (!loaded.error.empty()) log_.warning(Role::master, "TLSRPT counts: " + loaded.error);
    if (loaded.tally) days_[day].merge(*loaded.tally);
    asio::co_spawn(ex_, every(), asio::detached);
}

void Counts::add(const std::vector<SessionOutcome>& outcomes, std::int64_t now) {
    if (outcomes.empty()) return;
    const auto day = utc_day(now);
    auto& t = days_[day];
    for (const auto& o : outcomes) t.add(o);
    dirty_.insert(day);
}

asio::awaitable<void> Counts::flush() {
    auto days = std::move(dirty_);
    dirty_.clear();
    for (const auto& day : days) {
        auto job = [store = store_, day, t = days_[day]] { return store.save(day, t); };
        auto error = co_await off_loop<std::string>(pool_, std::move(job), asio::use_awaitable);
        if (!error.empty()) {
            log_.warning(Role::master, "TLSRPT counts not written: " + error);
            dirty_.insert(day);  // tried again at the next write
        }
    }
    // Only today's counts change; older days stay on disk for the reports.
    const auto today = utc_day(unix_seconds());
    std::erase_if(days_, [&](const auto& d) { return d.first < today && !dirty_.count(d.first); });
}

asio::awaitable<void> Counts::every() {
    for (;;) {
        timer_.expires_after(flush_every_);
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;  // stop()
        co_await flush();
    }
}

}  // namespace dr::relay::tlsrpt
