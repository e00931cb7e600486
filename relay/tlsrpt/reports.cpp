#include "relay/tlsrpt/reports.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>

#include "dane/small_file.hpp"
#include "dane/sts.hpp"
#include "relay/spool/off_loop.hpp"
#include "relay/tlsrpt/report_mail.hpp"
#include "relay/tlsrpt/store.hpp"

namespace dr::relay::tlsrpt {

namespace asio = boost::asio;

namespace {

std::int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The days with counts, before today, without a .sent mark (blocking: on the pool).
std::vector<std::string> unsent_days(const std::string& dir) {
    std::vector<std::string> out;
    const auto today = utc_day(now_us() / 1000000);
    for (const auto& day : Store(dir).days()) {
        std::string error;
        if (day < today && !dane::read_small_file(dir + "/" + day + ".sent", 4096, error) &&
            error.empty())
            out.push_back(day);
    }
    return out;
}

}  // namespace

ReportsConfig reports_config(const conf::Config& cfg) {
    const auto host = cfg.server.hostname.empty() ? conf::default_hostname() : cfg.server.hostname;
    const auto& t = cfg.tlsrpt;
    return ReportsConfig{cfg.spool.dir + "/tlsrpt", host,
                         t.organization.empty() ? host : t.organization,
                         t.contact.empty() ? "postmaster@" + host : t.contact,
                         t.from.empty() ? "noreply-smtp-tls-reporting@" + host : t.from};
}

Reports::Reports(asio::any_io_executor ex, asio::thread_pool& pool, AsyncSpool& spool,
                 dane::Resolver& resolver, Logger& log, ReportsConfig cfg,
                 std::function<void(const std::string& id)> enqueue)
    : ex_(ex),
      pool_(pool),
      spool_(spool),
      resolver_(resolver),
      log_(log),
      cfg_(std::move(cfg)),
      enqueue_(std::move(enqueue)),
      timer_(ex) {}

void Reports::start() {
    asio::co_spawn(ex_, every(), asio::detached);
}

asio::awaitable<void> Reports::every() {
    for (;;) {
        co_await send_due();
        timer_.expires_after(std::chrono::hours(1));
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;  // stop()
    }
}

asio::awaitable<void> Reports::send_due() {
    if (sending_) co_return;
    sending_ = true;
    auto job = [dir = cfg_.dir] { return unsent_days(dir); };
    auto days =
        co_await off_loop<std::vector<std::string>>(pool_, std::move(job), asio::use_awaitable);
    for (const auto& day : days) {
        if (!co_await send_day(day)) continue;  // tried again at the next check
        auto mark = [dir = cfg_.dir, day] {
            return dane::replace_file(dir, day + ".sent", "sent\n");
        };
        auto error = co_await off_loop<std::string>(pool_, std::move(mark), asio::use_awaitable);
        if (!error.empty()) log_.warning(Role::master, "TLSRPT: " + error);
    }
    sending_ = false;
}

// True when every report of the day was queued (or had nowhere to go).
asio::awaitable<bool> Reports::send_day(const std::string& day) {
    auto job = [dir = cfg_.dir, day] { return Store(dir).load(day); };
    auto loaded = co_await off_loop<Store::Loaded>(pool_, std::move(job), asio::use_awaitable);
    if (!loaded.error.empty()) log_.warning(Role::master, "TLSRPT: " + loaded.error);
    if (!loaded.tally) co_return true;  // nothing to send (a bad file was kept aside)
    bool all = true;
    for (const auto& [domain, _] : loaded.tally->domains()) {
        const bool sent = co_await send_domain(day, *loaded.tally, domain);
        all = sent && all;
    }
    co_return all;
}

asio::awaitable<bool> Reports::send_domain(const std::string& day, const Tally& t,
                                           const std::string& domain) {
    auto pending = resolver_.txt("_smtp._tls." + domain);
    auto txt = co_await pending.get();
    if (!txt.ok()) co_return false;  // SERVFAIL, bogus: ask again later
    auto record = dane::choose_tlsrpt_record(txt.records);
    if (!record) co_return true;  // the domain asks for no reports
    ReportOptions o{cfg_.organization, cfg_.contact, report_id(day, domain, cfg_.hostname)};
    const auto json = boost::json::serialize(*report_json(t, domain, day, o));
    bool all = true;
    for (const auto& rua : record.value->rua) {
        if (rua.starts_with("mailto:")) {
            const bool queued = co_await queue_mail(day, domain, rua.substr(7), json);
            all = queued && all;
        } else {
            log_.info(Role::master, "TLSRPT report for " + domain + " (" + day + ") not sent to " +
                                        rua + ": https reporting is not supported yet");
        }
    }
    co_return all;
}

asio::awaitable<bool> Reports::queue_mail(const std::string& day, const std::string& domain,
                                          const std::string& to, const std::string& json) {
    ReportMailInput in{domain,        cfg_.hostname, report_id(day, domain, cfg_.hostname),
                       day,           cfg_.from,     to,
                       cfg_.hostname, now_us(),      json};
    QueuedEnvelope env;
    env.sender = cfg_.from;
    env.recipients.push_back({.address = to, .notify = "", .orcpt = ""});
    env.client_name = "localhost";
    env.helo = cfg_.hostname;
    auto r =
        co_await spool_.async_commit(std::move(env), compose_report_mail(in), asio::use_awaitable);
    if (r.ec) {
        log_.warning(Role::master, "TLSRPT report for " + domain + " (" + day +
                                       ") not queued: " + r.ec.message());
        co_return false;
    }
    log_.info(Role::master,
              r.id + ": TLSRPT report for " + domain + " (" + day + ") to <" + to + ">");
    enqueue_(r.id);
    co_return true;
}

}  // namespace dr::relay::tlsrpt
