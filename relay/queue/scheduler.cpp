#include "relay/queue/scheduler.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "dane/destination.hpp"
#include "relay/queue/delivery.hpp"
#include "relay/queue/trouble.hpp"

namespace dr::relay {

namespace {

std::int64_t to_us(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
std::chrono::system_clock::time_point from_us(std::int64_t us) {
    return std::chrono::system_clock::time_point(std::chrono::microseconds(us));
}
double seconds(std::chrono::system_clock::duration d) {
    return std::max(0.0, std::chrono::duration<double>(d).count());
}

std::string orig_to(const Recipient& r) {
    auto semi = r.orcpt.find(';');
    return semi == std::string::npos ? std::string() : r.orcpt.substr(semi + 1);
}

}  // namespace

Scheduler::Scheduler(asio::any_io_executor ex, AsyncSpool& spool, dane::Resolver& resolver,
                     asio::ssl::context& tls, Logger& log, SchedulerConfig cfg)
    : ex_(ex),
      spool_(spool),
      resolver_(resolver),
      tls_(tls),
      log_(log),
      cfg_(std::move(cfg)),
      timer_(ex),
      idle_(ex) {}

void Scheduler::start() {
    for (const auto& info : spool_.spool().list()) {
        if (info.done()) {
            // Final but not yet removed when we last stopped.
            spool_.spool().remove(info.id);
            log_.info(Role::qmgr, info.id + ": removed");
            continue;
        }
        enqueue(info.id);
    }
}

void Scheduler::enqueue(const std::string& id) {
    auto info = spool_.spool().get(id);
    if (!info || info->held) return;
    if (!active_since_.count(id)) {
        active_since_[id] = Clock::now();
        log_.info(Role::qmgr, id + ": from=<" + info->envelope.sender +
                                  ">, size=" + std::to_string(info->body_size) +
                                  ", nrcpt=" + std::to_string(info->envelope.recipients.size()) +
                                  " (queue active)");
    }
    const auto now = to_us(Clock::now());
    for (std::size_t i = 0; i < info->rcpts.size(); ++i) {
        const auto& st = info->rcpts[i];
        if (st.status == RcptStatus::pending ||
            (st.status == RcptStatus::deferred && st.next_attempt_us <= now))
            add_due(id, i, recipient_domain(info->envelope.recipients[i].address));
        else if (st.status == RcptStatus::deferred)
            waiting_.emplace(st.next_attempt_us, std::pair{id, i});
    }
    arm_timer();
    pump();
}

void Scheduler::add_due(const std::string& id, std::size_t rcpt, const std::string& domain) {
    if (!queued_.insert({id, rcpt}).second) return;
    due_[domain].push_back({id, rcpt});
}

void Scheduler::flush() {
    for (auto& [when, item] : waiting_) {
        auto info = spool_.spool().get(item.first);
        if (info)
            add_due(item.first, item.second,
                    recipient_domain(info->envelope.recipients[item.second].address));
    }
    waiting_.clear();
    pump();
}

void Scheduler::pump() {
    if (stopping_) return;
    const WorkerLimits limits{cfg_.concurrency, cfg_.destination_concurrency, cfg_.batch,
                              cfg_.slow_concurrency};
    std::vector<const std::string*> names;
    std::vector<DestinationLoad> loads;
    for (const auto& [domain, q] : due_) {
        if (q.empty()) continue;
        auto it = running_per_.find(domain);
        names.push_back(&domain);
        loads.push_back({q.size(), it == running_per_.end() ? 0 : it->second, pace(domain)});
    }
    auto from = std::lower_bound(names.begin(), names.end(), next_first_,
                                 [](const std::string* a, const std::string& b) { return *a < b; });
    auto starts = choose_starts(loads, from - names.begin(), running_, running_slow_, limits);
    for (auto i : starts) {
        ++running_;
        ++running_per_[*names[i]];
        const bool slow = loads[i].pace == Pace::slow;
        if (slow) ++running_slow_;
        asio::co_spawn(ex_, worker(*names[i], slow), asio::detached);
    }
    // Round-robin: the next pump starts behind the last destination served.
    if (!starts.empty()) next_first_ = *names[(starts.back() + 1) % names.size()];
}

Pace Scheduler::pace(const std::string& domain) const {
    auto it = speed_.find(domain);
    if (it == speed_.end()) return Pace::unknown;
    return it->second.slow ? Pace::slow : Pace::fast;
}

void Scheduler::note_speed(const std::string& domain, std::chrono::steady_clock::duration took) {
    const auto now = std::chrono::steady_clock::now();
    speed_[domain] = {took >= cfg_.slow_attempt_time, now};
    // What is known of a destination not tried for a day is forgotten (bounded memory).
    if (speed_.size() > 1024)
        std::erase_if(speed_,
                      [&](const auto& e) { return now - e.second.at > std::chrono::hours(24); });
}

void Scheduler::arm_timer() {
    if (waiting_.empty() || stopping_) return;
    auto delta = from_us(waiting_.begin()->first) - Clock::now();
    timer_.expires_after(
        std::max(std::chrono::steady_clock::duration::zero(),
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(delta)));
    timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;  // re-armed or stopping
        const auto now = to_us(Clock::now());
        while (!waiting_.empty() && waiting_.begin()->first <= now) {
            auto [id, rcpt] = waiting_.begin()->second;
            waiting_.erase(waiting_.begin());
            if (auto info = spool_.spool().get(id); info && !info->held) {
                // Postfix's delays "b" counts from the retry's entry into the active queue.
                active_since_[id] = Clock::now();
                add_due(id, rcpt, recipient_domain(info->envelope.recipients[rcpt].address));
            }
        }
        arm_timer();
        pump();
    });
}

asio::awaitable<void> Scheduler::worker(std::string domain, bool slow) {
    while (!stopping_) {
        auto it = due_.find(domain);
        if (it == due_.end() || it->second.empty()) break;
        if (is_slow(domain) != slow) {
            // Turned slow: go on only within the slow destinations' share (SPEC §12).
            if (!slow && running_slow_ >= cfg_.slow_concurrency) break;
            slow = !slow;
            if (slow)
                ++running_slow_;
            else
                --running_slow_;
        }
        auto take = take_batch(it->second, cfg_.batch);  // one connection's worth
        const auto t0 = std::chrono::steady_clock::now();
        co_await deliver_batch(domain, std::move(take));
        note_speed(domain, std::chrono::steady_clock::now() - t0);
    }
    if (slow) --running_slow_;
    --running_;
    if (--running_per_[domain] == 0) running_per_.erase(domain);
    if (auto it = due_.find(domain); it != due_.end() && it->second.empty()) due_.erase(it);
    if (stopping_ && running_ == 0) idle_.cancel();
    pump();
}

asio::awaitable<void> Scheduler::deliver_batch(const std::string& domain,
                                               std::vector<BatchedMessage> groups) {
    std::vector<OutboundMessage> batch;
    std::vector<MessageInfo> infos;
    std::vector<std::vector<std::size_t>> indexes;
    for (auto& [id, rcpts] : groups) {
        auto info = spool_.spool().get(id);
        std::string body;
        std::error_code ec = info ? spool_.spool().read_body(id, body) : std::error_code();
        if (!info || info->held || ec) {
            if (ec) log_.warning(Role::qmgr, id + ": cannot read queue file: " + ec.message());
            for (auto r : rcpts) queued_.erase({id, r});
            continue;
        }
        batch.push_back({id, with_recipients(info->envelope, rcpts), std::move(body)});
        infos.push_back(std::move(*info));
        indexes.push_back(rcpts);
    }
    if (batch.empty()) co_return;

    const auto t0 = Clock::now();
    auto dest = co_await dane::resolve_destination(resolver_, domain, cfg_.policy, rng_);
    const auto dns_time = Clock::now() - t0;
    ConnectOptions options = cfg_.connect;
    options.helo_name = cfg_.hostname;
    options.log = [this](const std::string& line) { log_.info(Role::smtp, line); };
    std::vector<bool> expired(batch.size(), false);

    // Logs and makes durable the results from `first` on, one spool write per
    // message; runs after every transaction (see ProgressHook).
    std::size_t applied = 0;
    auto apply = [&](const std::vector<RecipientResult>& all,
                     std::size_t first) -> asio::awaitable<void> {
        const auto now = Clock::now();
        std::map<std::size_t, std::vector<StatusUpdate>> updates;
        for (std::size_t i = first; i < all.size(); ++i) {
            const auto& rr = all[i];
            const auto& info = infos[rr.message];
            const std::size_t ri = indexes[rr.message][rr.recipient];
            log_.info(Role::smtp, format_delivery(record_of(info, ri, rr, t0, dns_time, now)));
            RcptState st = next_state(info.rcpts[ri], rr.state, rr.dsn, rr.text,
                                      info.envelope.arrival_us, to_us(now), cfg_.queue);
            if (relay::expired(rr.state, st)) expired[rr.message] = true;
            updates[rr.message].push_back({ri, st});
        }
        applied = all.size();
        for (auto& [m, ups] : updates) {
            const auto& id = infos[m].id;
            auto ec = co_await spool_.async_update(id, ups, asio::use_awaitable);
            for (const auto& u : ups) {
                queued_.erase({id, u.rcpt});
                // A failed write leaves the old state on disk; retry later, not now.
                if (ec || u.state.status == RcptStatus::deferred)
                    waiting_.emplace(
                        ec ? to_us(now + cfg_.queue.minimal_backoff) : u.state.next_attempt_us,
                        std::pair{id, u.rcpt});
            }
            if (ec) log_.warning(Role::qmgr, id + ": cannot update queue file: " + ec.message());
        }
    };
    auto report = co_await deliver(dest, batch, tls_, options, apply);
    for (const auto& line : report.log) log_.info(Role::smtp, line);
    if (evidence_) evidence_->write(evidence(dest, report, infos, indexes));
    if (applied < report.recipients.size()) co_await apply(report.recipients, applied);

    for (std::size_t m = 0; m < batch.size(); ++m) {
        const auto& id = infos[m].id;
        if (expired[m])
            log_.info(Role::qmgr, id + ": from=<" + infos[m].envelope.sender +
                                      ">, status=expired, returned to sender");
        auto info = spool_.spool().get(id);
        if (info && info->done()) co_await finish(*info, batch[m].content);
    }
    arm_timer();
}

asio::awaitable<void> Scheduler::finish(const MessageInfo& info, const std::string& content) {
    bool bounced = std::any_of(info.rcpts.begin(), info.rcpts.end(),
                               [](const RcptState& s) { return s.status == RcptStatus::bounced; });
    if (bounced) {
        auto notice = co_await queue_bounce_notice(spool_, log_, cfg_.hostname, info, content);
        if (notice.kind == NoticeResult::Kind::queued) enqueue(notice.id);
        if (on_notice_failure(FailureAction::bounce, notice.queued_or_not_wanted()) ==
            FailureAction::defer) {
            co_await keep_for_notice(info);
            co_return;
        }
    }
    spool_.spool().remove(info.id);
    active_since_.erase(info.id);
    log_.info(Role::qmgr, info.id + ": removed");
}

// The sender could not be told: the bounced recipients wait as deferred and bounce again on
// their next attempt, when the notice is tried again (Postfix defers when bounce_append fails).
asio::awaitable<void> Scheduler::keep_for_notice(const MessageInfo& info) {
    const auto now = to_us(Clock::now());
    std::vector<StatusUpdate> ups;
    for (std::size_t i = 0; i < info.rcpts.size(); ++i)
        if (info.rcpts[i].status == RcptStatus::bounced)
            ups.push_back({i, after_notice_failure(info.rcpts[i], now, cfg_.queue)});
    auto ec = co_await spool_.async_update(info.id, ups, asio::use_awaitable);
    for (const auto& u : ups) waiting_.emplace(u.state.next_attempt_us, std::pair{info.id, u.rcpt});
    log_.warning(Role::qmgr, info.id + ": bounce notice not queued; kept for a later attempt" +
                                 (ec ? ", and the queue file not updated: " + ec.message() : ""));
}

boost::json::value Scheduler::evidence(const dane::Destination& dest, const AttemptReport& report,
                                       const std::vector<MessageInfo>& infos,
                                       const std::vector<std::vector<std::size_t>>& indexes) const {
    namespace json = boost::json;
    json::object out = destination_json(dest);
    out["time"] = to_us(Clock::now());
    json::array conns, rcpts;
    for (const auto& c : report.connections)
        conns.push_back(json::object{
            {"relay", c.relay}, {"status", status_json(c.status)}, {"tls", tls_json(c.tls)}});
    for (const auto& rr : report.recipients) {
        const auto& info = infos[rr.message];
        rcpts.push_back(json::object{
            {"queue_id", info.id},
            {"recipient", info.envelope.recipients[indexes[rr.message][rr.recipient]].address},
            {"status", to_string(rr.state)},
            {"dsn", rr.dsn},
            {"relay", rr.relay},
            {"tls", rr.tls ? json::value(dane::to_string(*rr.tls)) : json::value(nullptr)},
            {"text", rr.text}});
    }
    out["connections"] = std::move(conns);
    out["recipients"] = std::move(rcpts);
    return out;
}

DeliveryRecord Scheduler::record_of(const MessageInfo& info, std::size_t ri,
                                    const RecipientResult& rr, Clock::time_point t0,
                                    Clock::duration dns_time, Clock::time_point now) const {
    const auto arrival = from_us(info.envelope.arrival_us);
    auto it = active_since_.find(info.id);
    const auto active = it != active_since_.end() ? it->second : t0;
    DeliveryRecord rec;
    rec.queue_id = info.id;
    rec.recipient = info.envelope.recipients[ri].address;
    rec.original_recipient = orig_to(info.envelope.recipients[ri]);
    rec.relay = rr.relay;
    rec.conn_use = rr.conn_use;
    rec.delay = seconds(now - arrival);
    rec.delays[0] = seconds(active - arrival);
    rec.delays[1] = seconds(t0 - active);
    rec.delays[2] = seconds(dns_time + rr.setup);
    rec.delays[3] = seconds(rr.transmission);
    if (cfg_.tls_feature_status) rec.tls = rr.tls_feature;
    rec.dsn = rr.dsn;
    rec.status = to_string(rr.state);
    rec.text = rr.text;
    return rec;
}

asio::awaitable<void> Scheduler::drain() {
    stopping_ = true;
    timer_.cancel();
    while (running_ > 0) {
        idle_.expires_at(asio::steady_timer::time_point::max());
        boost::system::error_code ec;
        co_await idle_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

}  // namespace dr::relay
