#include "relay/tlsrpt/reports.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <sstream>

#include "dane/https.hpp"
#include "dane/small_file.hpp"
#include "dane/sts.hpp"
#include "relay/spool/off_loop.hpp"
#include "relay/spool/unix_time.hpp"
#include "relay/tlsrpt/post.hpp"
#include "relay/tlsrpt/report_mail.hpp"
#include "relay/tlsrpt/store.hpp"

namespace dr::relay::tlsrpt {

namespace asio = boost::asio;

namespace {

constexpr const char* kComplete = "sent";  // the last mark of a day whose reports all went

// What <dir>/<day>.sent says went out (blocking: on the pool).
std::set<std::string> read_marks(const std::string& dir, const std::string& day) {
    std::string error;
    auto text = dane::read_small_file(dir + "/" + day + ".sent", 1 << 20, error);
    std::set<std::string> out;
    std::istringstream lines(text.value_or(""));
    for (std::string line; std::getline(lines, line);)
        if (!line.empty()) out.insert(line);
    return out;
}

// The days with counts, before today, not marked complete (blocking: on the pool).
std::vector<std::string> unsent_days(const std::string& dir) {
    std::vector<std::string> out;
    const auto today = utc_day(unix_seconds());
    for (const auto& day : Store(dir).days())
        if (day < today && !read_marks(dir, day).contains(kComplete)) out.push_back(day);
    return out;
}

// A failure is given up once the day ended 24 hours ago.
bool too_late(const std::string& day) {
    return unix_seconds() >= day_start(day) + 2 * 86400;
}

}  // namespace

ReportsConfig reports_config(const conf::Config& cfg) {
    const auto host = cfg.server.hostname.empty() ? conf::default_hostname() : cfg.server.hostname;
    const auto& t = cfg.tlsrpt;
    ReportsConfig r;
    r.dir = cfg.spool.dir + "/tlsrpt";
    r.hostname = host;
    r.organization = t.organization.empty() ? host : t.organization;
    r.contact = t.contact.empty() ? "postmaster@" + host : t.contact;
    r.from = t.from.empty() ? "noreply-smtp-tls-reporting@" + host : t.from;
    r.ca_file = cfg.tls.ca_file;
    return r;
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

void Reports::say(Round& round, bool warning, const std::string& text) {
    if (warning)
        log_.warning(Role::master, text);
    else
        log_.info(Role::master, text);
    round.said += text + "\n";
}

asio::awaitable<void> Reports::send_due() {
    if (sending_) co_return;
    sending_ = true;
    auto job = [dir = cfg_.dir] { return unsent_days(dir); };
    auto days =
        co_await off_loop<std::vector<std::string>>(pool_, std::move(job), asio::use_awaitable);
    Round round;
    co_await send_days(std::move(days), round);
    sending_ = false;
}

asio::awaitable<std::pair<int, std::string>> Reports::send_now(std::string day) {
    if (sending_) co_return std::pair{75, std::string("reports are being sent; try again soon\n")};
    if (!day.empty() && !(Store::is_day(day) && day < utc_day(unix_seconds())))
        co_return std::pair{2, day + " is not a finished UTC day (YYYY-MM-DD before today)\n"};
    sending_ = true;
    Round round;
    std::vector<std::string> days{day};
    if (day.empty()) {
        auto job = [dir = cfg_.dir] { return unsent_days(dir); };
        days =
            co_await off_loop<std::vector<std::string>>(pool_, std::move(job), asio::use_awaitable);
    } else {
        round.again = true;
    }
    co_await send_days(std::move(days), round);
    sending_ = false;
    if (round.said.empty()) round.said = "no reports to send\n";
    co_return std::pair{round.failed ? 1 : 0, round.said};
}

asio::awaitable<void> Reports::send_days(std::vector<std::string> days, Round& round) {
    for (const auto& day : days) co_await send_day(day, round);
}

// True when every report of the day went (or had nowhere to go); the day is then marked.
asio::awaitable<bool> Reports::send_day(const std::string& day, Round& round) {
    auto job = [dir = cfg_.dir, day] { return Store(dir).load(day); };
    auto loaded = co_await off_loop<Store::Loaded>(pool_, std::move(job), asio::use_awaitable);
    if (!loaded.error.empty()) say(round, true, "TLSRPT: " + loaded.error);
    Marks marks{day, {}};
    if (!round.again) {
        auto read = [dir = cfg_.dir, day] { return read_marks(dir, day); };
        marks.done =
            co_await off_loop<std::set<std::string>>(pool_, std::move(read), asio::use_awaitable);
    }
    bool all = true;
    if (loaded.tally) {  // else nothing to send (a bad file was kept aside)
        for (const auto& [domain, _] : loaded.tally->domains()) {
            const bool sent = co_await send_domain(*loaded.tally, domain, marks, round);
            all = sent && all;
        }
    }
    if (all) {
        marks.done.insert(kComplete);
        co_await save(marks);
    }
    co_return all;
}

asio::awaitable<bool> Reports::send_domain(const Tally& t, const std::string& domain, Marks& marks,
                                           Round& round) {
    const auto& day = marks.day;
    auto pending = resolver_.txt("_smtp._tls." + domain);
    auto txt = co_await pending.get();
    if (!txt.ok()) {  // SERVFAIL, bogus: ask again later
        const bool late = too_late(day);
        say(round, true,
            "TLSRPT report for " + domain + " (" + day + "): _smtp._tls." + domain +
                " TXT lookup failed" + (late ? ": given up" : ": tried again within the hour"));
        round.failed = true;
        co_return late;
    }
    auto record = dane::choose_tlsrpt_record(txt.records);
    if (!record) co_return true;  // the domain asks for no reports
    ReportOptions o{cfg_.organization, cfg_.contact, report_id(day, domain, cfg_.hostname)};
    const auto json = boost::json::serialize(*report_json(t, domain, day, o));
    bool all = true;
    for (const auto& rua : record.value->rua) {
        const bool sent = co_await send_to(domain, rua, json, marks, round);
        all = sent && all;
    }
    co_return all;
}

// One rua: skipped when marked, marked when sent or given up.
asio::awaitable<bool> Reports::send_to(const std::string& domain, const std::string& rua,
                                       const std::string& json, Marks& marks, Round& round) {
    const auto mark = domain + " " + rua;
    if (marks.done.contains(mark)) co_return true;
    const auto& day = marks.day;
    bool sent = false;  // GCC 12: no co_await inside ?:
    if (rua.starts_with("mailto:"))
        sent = co_await queue_mail(day, domain, rua.substr(7), json, round);
    else
        sent = co_await post(day, domain, rua, json, round);
    if (!sent) round.failed = true;
    if (!sent && !too_late(day)) co_return false;
    if (!sent)
        say(round, true,
            "TLSRPT report for " + domain + " (" + day + ") to " + rua +
                ": given up (the day ended more than 24 hours ago)");
    marks.done.insert(mark);
    co_await save(marks);
    co_return true;
}

asio::awaitable<void> Reports::save(const Marks& marks) {
    std::string text;
    for (const auto& m : marks.done)
        if (m != kComplete) text += m + "\n";
    if (marks.done.contains(kComplete)) text += std::string(kComplete) + "\n";
    auto job = [dir = cfg_.dir, name = marks.day + ".sent", text] {
        return dane::replace_file(dir, name, text);
    };
    auto error = co_await off_loop<std::string>(pool_, std::move(job), asio::use_awaitable);
    if (!error.empty()) log_.warning(Role::master, "TLSRPT: " + error);
}

asio::awaitable<bool> Reports::queue_mail(const std::string& day, const std::string& domain,
                                          const std::string& to, const std::string& json,
                                          Round& round) {
    ReportMailInput in{domain,        cfg_.hostname, report_id(day, domain, cfg_.hostname),
                       day,           cfg_.from,     to,
                       cfg_.hostname, unix_micros(), json};
    QueuedEnvelope env;
    env.sender = cfg_.from;
    env.recipients.push_back({.address = to, .notify = "", .orcpt = ""});
    env.client_name = "localhost";
    env.helo = cfg_.hostname;
    env.tls_optional = true;  // its TLS-Required: No header, as if it came in through smtpd
    auto r =
        co_await spool_.async_commit(std::move(env), compose_report_mail(in), asio::use_awaitable);
    if (r.ec) {
        say(round, true,
            "TLSRPT report for " + domain + " (" + day + ") not queued: " + r.ec.message());
        co_return false;
    }
    say(round, false, r.id + ": TLSRPT report for " + domain + " (" + day + ") to <" + to + ">");
    enqueue_(r.id);
    co_return true;
}

asio::awaitable<bool> Reports::post(const std::string& day, const std::string& domain,
                                    const std::string& url, const std::string& json, Round& round) {
    const auto head = "TLSRPT report for " + domain + " (" + day + ") ";
    std::string error;
    const auto host = dane::https_url_host(url, error);
    PostOptions o;
    o.ca_file = cfg_.ca_file;
    o.connect_port = cfg_.connect_port;
    if (error.empty()) {
        auto a = resolver_.a(host);
        auto aaaa = resolver_.aaaa(host);
        for (auto* p : {&a, &aaaa}) {
            auto l = co_await p->get();
            if (!l.ok()) continue;
            for (const auto& ip : l.records) o.addresses.push_back(ip.to_string());
        }
        if (o.addresses.empty()) error = "no address for " + host;
    }
    if (!error.empty()) {
        say(round, true, head + "not posted to " + url + ": " + error);
        co_return false;
    }
    auto job = [url, json, o = std::move(o)] { return post_report(url, json, o); };
    auto posted = co_await off_loop<Posted>(pool_, std::move(job), asio::use_awaitable);
    say(round, !posted.delivered,
        head + (posted.delivered ? "posted to " : "not posted to ") + url + ": " + posted.text);
    co_return posted.delivered;
}

}  // namespace dr::relay::tlsrpt
