#include "relay/queue/scheduler.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <limits>
#include <tuple>

#include "dane/destination.hpp"
#include "dane/requiretls_plan.hpp"
#include "dane/sts_plan.hpp"
#include "relay/metrics/metrics.hpp"
#include "relay/queue/delivery.hpp"
#include "relay/queue/sts_policies.hpp"
#include "relay/queue/trouble.hpp"
#include "relay/spool/body_source.hpp"

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

// One delivery line in the counters; the latency once the recipient's status is final.
void count_delivery(Metrics& m, const RecipientResult& rr, const RcptState& st,
                    std::chrono::system_clock::duration since_arrival) {
    const bool final = st.status == RcptStatus::delivered || st.status == RcptStatus::bounced;
    m.delivery(to_string(rr.state), rr.tls ? dane::to_string(*rr.tls) : "none",
               final ? std::optional(seconds(since_arrival)) : std::nullopt);
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
      idle_(ex),
      sessions_(cfg_.tls_sessions),
      connections_(ex, cfg_.connection_cache),
      removals_(ex, spool) {
    dane::SessionCache::attach(tls.native_handle());
    connections_.set_demand([this](const std::string& domain) {
        auto it = due_.find(domain);
        return it != due_.end() && !it->second.empty();
    });
}

void Scheduler::start() {
    asio::co_spawn(ex_, scan(), asio::detached);
}

// Reads only the index (QueueSummary), a page at a time, yielding between pages so that a
// large queue does not hold up new mail: the messages to deliver wait in waiting_ (those due
// now for now) and are read from the spool as the timer takes them into the active queue, at
// most active_limit recipients at a time. Final messages are finished or removed. In ID order,
// i.e. arrival order: a notice's ID sorts after its original's, so every original is checked
// (owes_notice) before its notice can be taken in.
asio::awaitable<void> Scheduler::scan() {
    auto& spool = spool_.spool();
    std::string after;
    for (auto page = spool.summaries(after, 4096); !page.empty() && !stopping_;
         page = spool.summaries(after, 4096)) {
        after = page.back().id;
        for (const auto& s : page) {
            if (!s.done) {
                if (!s.held) wait(s.id, s.next_attempt_us, false);
                continue;
            }
            auto info = spool.get(s.id);
            if (!info) continue;
            if (owes_notice(*info)) {
                // Final, but the notice may not have been queued when we stopped: queue it now.
                asio::co_spawn(ex_, finish(info->id), asio::detached);
            } else {
                auto ec = co_await spool_.async_remove(info->id, asio::use_awaitable);
                if (!ec)
                    log_.info(Role::qmgr, info->id + ": removed");
                else if (ec != SpoolErrc::not_found)
                    log_.warning(Role::qmgr, info->id + ": cannot remove queue file: " +
                                                 ec.message() + "; kept until the next start");
            }
        }
        arm_timer();
        co_await asio::post(ex_, asio::use_awaitable);
    }
}

// A bounce whose notice is not queued: none marked, or the one marked (before its commit) is
// neither committed by this process nor in the queue, so a crash came before its commit. The
// originals are checked at start-up before any notice can be delivered and removed.
bool Scheduler::owes_notice(const MessageInfo& info) const {
    if (info.notice_owed()) return true;
    if (info.notice.empty() || info.notice == "none") return false;
    return !sent_notices_.count(info.notice) && !spool_.spool().get(info.notice);
}

// The spool's state with the states not yet written over it: what the queue manager acts on.
// nullopt when the message is gone, or (with `ec`) when its file cannot be read now.
std::optional<MessageInfo> Scheduler::current(const std::string& id, std::error_code& ec) const {
    auto info = spool_.spool().get(id, ec);
    if (!info) return info;
    if (auto it = unsaved_.find(id); it != unsaved_.end())
        for (const auto& [r, st] : it->second) info->rcpts[r] = st;
    return info;
}

std::optional<MessageInfo> Scheduler::current(const std::string& id) const {
    std::error_code ec;
    return current(id, ec);
}

void Scheduler::enqueue(const std::string& id) {
    if (!take_in(id, false, 0, false)) return;
    arm_timer();
    pump_soon();
}

// Into the active queue: the recipients due by now (or by `due_until_us`, the time the message
// waited for, so that a clock stepped back cannot keep it waiting) are queued, the deferred
// ones wait. The "(queue active)" line is logged once, unless `announced`; a `woken` message
// enters the active queue now. False when the
// message is gone or held; one that cannot be read is tried again after minimal_backoff.
bool Scheduler::take_in(const std::string& id, bool woken, std::int64_t due_until_us,
                        bool announced) {
    std::error_code ec;
    auto info = current(id, ec);
    const auto now = to_us(Clock::now());
    if (!info && ec) {
        log_.warning(Role::qmgr, id + ": cannot read queue file: " + ec.message() + "; will retry");
        wait(id, now + std::chrono::microseconds(cfg_.queue.minimal_backoff).count(), announced);
        return false;
    }
    if (!info || info->held) {
        leave_active(id);
        return false;
    }
    // A message that waits was announced when it first came in (or waits since the start).
    if (auto key = QueueKey::from(id); key && !announced)
        announced = waiting_.announced(*key).value_or(false);
    if (!announced && !active_since_.count(id)) {
        active_since_[id] = Clock::now();
        log_.info(Role::qmgr, id + ": from=<" + info->envelope.sender +
                                  ">, size=" + std::to_string(info->body_size) +
                                  ", nrcpt=" + std::to_string(info->envelope.recipients.size()) +
                                  " (queue active)");
    }
    // Postfix's delays "b" counts from the retry's entry into the active queue.
    if (woken) active_since_[id] = Clock::now();
    const auto until = std::max(now, due_until_us);
    std::optional<std::int64_t> next;  // the earliest deferred recipient not due yet
    for (std::size_t i = 0; i < info->rcpts.size(); ++i) {
        const auto& st = info->rcpts[i];
        if (st.status == RcptStatus::pending ||
            (st.status == RcptStatus::deferred && st.next_attempt_us <= until))
            add_due(id, i, queue_of(info->envelope, i));
        else if (st.status == RcptStatus::deferred && !queued_.count({id, i}))
            next = std::min(next.value_or(st.next_attempt_us), st.next_attempt_us);
    }
    // A message that already waits keeps its wait: it was made when the state was written,
    // from the clock of then (a release after a clock step must not add an early retry). A
    // recipient still queued is being recorded: record() makes its wait, from the moment its
    // attempt ended, once the write is done (a release that reads the new state first must not
    // count it from a clock stepped meanwhile).
    if (next) wait(id, *next, true, WaitList::Keep::existing);
    leave_active(id);
    return true;
}

void Scheduler::add_due(const std::string& id, std::size_t rcpt, const std::string& domain) {
    if (!queued_.insert({id, rcpt}).second) return;
    due_[domain].add(id, rcpt);
}

bool Scheduler::is_queued(const std::string& id) const {
    auto it = queued_.lower_bound({id, 0});
    return it != queued_.end() && it->first == id;
}

// A message with nothing due or in flight has left the active queue (it waits, or is gone).
void Scheduler::leave_active(const std::string& id) {
    if (!is_queued(id)) active_since_.erase(id);
}

// A deferred message waits until `wall_us` (as stored), counted on the steady clock from
// `from` (when that time was decided; now by default), and never longer than maximal_backoff:
// a time stored before the clock stepped back (just before, or before a restart) costs at most
// one backoff, not the size of the step.
void Scheduler::wait(const std::string& id, std::int64_t wall_us, bool announced,
                     WaitList::Keep keep) {
    wait(id, wall_us, announced, keep, Moment{});
}

void Scheduler::wait(const std::string& id, std::int64_t wall_us, bool announced,
                     WaitList::Keep keep, Moment from) {
    auto key = QueueKey::from(id);
    if (!key) return;
    const auto delta = std::min<std::chrono::microseconds>(
        std::chrono::microseconds(std::max<std::int64_t>(0, wall_us - to_us(from.wall))),
        cfg_.queue.maximal_backoff);
    waiting_.add(*key, from.steady + delta, wall_us, announced, keep);
}

// Every waiting message is due now with all its deferred recipients; they enter the active
// queue in order, within active_limit.
void Scheduler::flush() {
    const auto now = Steady::now();
    for (const auto& w : waiting_.take_all())
        waiting_.add(w.id, now, std::numeric_limits<std::int64_t>::max(), w.announced);
    wake();
}

// Many enqueues in a row (a burst of arrivals) cost one pump.
void Scheduler::pump_soon() {
    if (pump_posted_) return;
    pump_posted_ = true;
    asio::post(ex_, [this] {
        pump_posted_ = false;
        pump();
    });
}

void Scheduler::pump() {
    if (stopping_) return;
    const WorkerLimits limits{cfg_.concurrency, cfg_.destination_concurrency, cfg_.batch,
                              cfg_.slow_concurrency};
    // co_spawn runs a worker at once, up to its first wait: one with nothing to wait for (only
    // stale entries) ends inside it and erases its due_ entry. So the names are copies, and no
    // iterator or reference into due_ or running_per_ is held across it.
    std::vector<std::string> names;
    std::vector<DestinationLoad> loads;
    for (const auto& [domain, q] : due_) {
        if (q.empty()) continue;
        auto it = running_per_.find(domain);
        names.push_back(domain);
        loads.push_back({q.recipients(), it == running_per_.end() ? 0 : it->second, pace(domain)});
    }
    auto from = std::lower_bound(names.begin(), names.end(), next_first_);
    auto starts = choose_starts(loads, from - names.begin(), running_, running_slow_, limits);
    // Round-robin: the next pump starts behind the last destination served.
    if (!starts.empty()) next_first_ = names[(starts.back() + 1) % names.size()];
    for (auto i : starts) {
        ++running_;
        ++running_per_[names[i]];
        const bool slow = loads[i].pace == Pace::slow;
        if (slow) ++running_slow_;
        asio::co_spawn(ex_, worker(names[i], slow), asio::detached);
    }
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

// Fires when the earliest waiting message is due, and at once while due messages wait for room
// in the active queue (after each delivery ends, which frees room).
void Scheduler::arm_timer() {
    if (waiting_.empty() || stopping_) return;
    const auto next = *waiting_.next();
    if (next <= Steady::now() && queued_.size() >= cfg_.active_limit) return;
    timer_.expires_at(next);
    timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;  // re-armed or stopping
        wake();
    });
}

// Takes the due messages into the active queue, up to active_limit recipients; the others stay
// first in line.
void Scheduler::wake() {
    const auto now = Steady::now();
    // Bounded by what waits now: a message that cannot be read waits again, maybe at once.
    for (std::size_t budget = waiting_.size(); budget > 0 && queued_.size() < cfg_.active_limit;) {
        const std::size_t room = (cfg_.active_limit - queued_.size() + 3) / 4;
        auto due = waiting_.take_due(now, std::min(budget, room));
        if (due.empty()) break;
        budget -= due.size();
        for (const auto& w : due) take_in(w.id.str(), true, w.wall_us, w.announced);
    }
    arm_timer();
    pump();
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
        auto take = it->second.take(cfg_.batch);  // one connection's worth
        const auto t0 = std::chrono::steady_clock::now();
        co_await deliver_batch(domain, std::move(take));
        note_speed(domain, std::chrono::steady_clock::now() - t0);
        arm_timer();  // room in the active queue
    }
    if (slow) --running_slow_;
    --running_;
    if (--running_per_[domain] == 0) running_per_.erase(domain);
    if (auto it = due_.find(domain); it != due_.end() && it->second.empty()) due_.erase(it);
    if (stopping_ && running_ == 0) idle_.cancel();
    pump();
}

// Makes `ups` durable, together with any older states of the message that are still unsaved.
// A failed write keeps them in memory as the newest states (a delivered recipient is not
// delivered again) and tries the write again later. Deferred recipients wait for their time.
// New states that leave the message final with no notice owed are not written: the message is
// removed at once, and the removal is what makes them durable (Postfix's qmgr does the same).
// Until then they are unsaved; a removal that fails writes them in retry_later().
asio::awaitable<void> Scheduler::record(const std::string& id, std::vector<StatusUpdate> ups,
                                        Moment decided) {
    std::vector<StatusUpdate> all = ups;
    if (auto it = unsaved_.find(id); it != unsaved_.end())
        for (const auto& [r, st] : it->second)
            if (std::none_of(ups.begin(), ups.end(), [&](const auto& u) { return u.rcpt == r; }))
                all.push_back({r, st});
    if (!ups.empty() && removable_with(id, all)) {
        for (const auto& u : all) unsaved_[id][u.rcpt] = u.state;
        asio::co_spawn(ex_, finish(id), asio::detached);
        all.clear();
    }
    auto ec = all.empty() ? std::error_code()
                          : co_await spool_.async_update(id, all, asio::use_awaitable);
    if (!ec || ec == SpoolErrc::not_found) {
        if (auto it = unsaved_.find(id); it != unsaved_.end()) {
            for (const auto& u : all)
                if (auto s = it->second.find(u.rcpt); s != it->second.end() && s->second == u.state)
                    it->second.erase(s);
            if (it->second.empty()) unsaved_.erase(it);
        }
    } else {
        for (const auto& u : all) unsaved_[id][u.rcpt] = u.state;
        log_.warning(Role::qmgr, id + ": cannot update queue file: " + ec.message() +
                                     "; state kept in memory, written again later");
        later(id);
    }
    for (const auto& u : ups) {
        queued_.erase({id, u.rcpt});
        if (u.state.status == RcptStatus::deferred)
            wait(id, u.state.next_attempt_us, true, WaitList::Keep::earliest, decided);
    }
    if (!ups.empty()) leave_active(id);
    if (!ups.empty() && in_flow_) in_flow_->put();
}

// True when `states` over the queued message make it final with no notice owed.
bool Scheduler::removable_with(const std::string& id,
                               const std::vector<StatusUpdate>& states) const {
    auto info = current(id);
    if (!info) return false;
    for (const auto& u : states) info->rcpts[u.rcpt] = u.state;
    return info->done() && !owes_notice(*info);
}

// RFC 8689: REQUIRETLS and honoured "TLS-Required: No" messages have queues of their own.
std::string Scheduler::queue_of(const QueuedEnvelope& env, std::size_t rcpt) const {
    auto ask = env.requiretls                                    ? TlsAsk::requiretls
               : env.tls_optional && cfg_.honour_tls_required_no ? TlsAsk::optional
                                                                 : TlsAsk::policy;
    return queue_key(recipient_domain(env.recipients[rcpt].address), ask);
}

asio::awaitable<void> Scheduler::deliver_batch(const std::string& queue,
                                               std::vector<BatchedMessage> groups) {
    const auto split = split_queue_key(queue);
    const std::string& domain = split.first;
    const TlsAsk ask = split.second;
    std::vector<OutboundMessage> batch;
    std::vector<MessageInfo> infos;
    std::vector<std::vector<std::size_t>> indexes;
    // Why a body could not be streamed (set by its source; SpoolErrc::corrupt: damaged).
    std::vector<std::shared_ptr<std::error_code>> failures;
    // Bodies that cannot be read, handled after the loop.
    std::vector<std::tuple<MessageInfo, std::vector<std::size_t>, std::error_code>> unread;
    // Only recipients still to deliver: a stale entry (flush, release) must not resend.
    std::vector<std::pair<std::string, std::vector<std::size_t>>> wanted;
    for (const auto& group : groups) {
        const std::string& id = group.id;
        std::error_code info_ec;
        auto info = current(id, info_ec);
        if (!info && info_ec) {  // evicted from the spool's cache and cannot be read now
            for (auto r : group.rcpts) queued_.erase({id, r});
            take_in(id, false, 0, true);  // logs and waits for minimal_backoff
            continue;
        }
        std::vector<std::size_t> rcpts;
        for (auto r : group.rcpts) {
            auto s = info ? info->rcpts[r].status : RcptStatus::delivered;
            if (s == RcptStatus::pending || s == RcptStatus::deferred)
                rcpts.push_back(r);
            else
                queued_.erase({id, r});
        }
        if (!info || rcpts.empty()) {
            leave_active(id);
            continue;
        }
        wanted.emplace_back(id, std::move(rcpts));
    }
    // The bodies' CRCs and SIZEs, in one job on the spool's pool; each is streamed again
    // when sent.
    std::vector<std::string> ids;
    for (const auto& w : wanted) ids.push_back(w.first);
    auto checks = co_await check_bodies(spool_, std::move(ids));
    for (std::size_t i = 0; i < wanted.size(); ++i) {
        const std::string& id = wanted[i].first;
        auto& rcpts = wanted[i].second;
        auto info = current(id);  // deleted or held meanwhile?
        const std::error_code ec = checks[i].ec;
        if (info && !info->held && ec && ec != SpoolErrc::not_found) {
            unread.emplace_back(std::move(*info), std::move(rcpts), ec);
        } else if (!info || info->held || ec) {
            for (auto r : rcpts) queued_.erase({id, r});
            leave_active(id);
        } else {
            auto failure = std::make_shared<std::error_code>();
            auto source = [this, id, facts = checks[i].facts, failure] {
                return std::make_unique<SpoolBodySource>(spool_, id, facts, failure);
            };
            batch.push_back({id, with_recipients(info->envelope, rcpts), {}, std::move(source)});
            infos.push_back(std::move(*info));
            indexes.push_back(rcpts);
            failures.push_back(std::move(failure));
        }
    }
    for (const auto& u : unread)
        co_await unreadable(std::get<0>(u), std::get<1>(u), std::get<2>(u));
    if (batch.empty()) co_return;

    const auto t0 = Clock::now();
    auto dest = co_await dane::resolve_destination(resolver_, domain, cfg_.policy, rng_);
    const auto sts = co_await apply_sts(dest);
    if (ask == TlsAsk::requiretls) dane::apply_requiretls(dest);
    if (ask == TlsAsk::optional) dane::apply_tls_optional(dest);
    const auto dns_time = Clock::now() - t0;
    ConnectOptions options = cfg_.connect;
    options.helo_name = cfg_.hostname;
    options.log = [this](const std::string& line) { log_.info(Role::smtp, line); };
    options.metrics = metrics_;
    options.sessions = &sessions_;
    std::vector<bool> expired(batch.size(), false);

    // Logs and makes durable the results from `first` on, one spool write per
    // message; runs after every transaction (see ProgressHook).
    std::size_t applied = 0;
    auto apply = [&](const std::vector<RecipientResult>& all,
                     std::size_t first) -> asio::awaitable<void> {
        const Moment decided;
        const auto now = decided.wall;
        std::map<std::size_t, std::vector<StatusUpdate>> updates;
        for (std::size_t i = first; i < all.size(); ++i) {
            const auto& rr = all[i];
            const auto& info = infos[rr.message];
            const std::size_t ri = indexes[rr.message][rr.recipient];
            log_.info(Role::smtp, format_delivery(record_of(info, ri, rr, t0, dns_time, now)));
            RcptState st = next_state(info.rcpts[ri], rr.state, rr.dsn, rr.text,
                                      info.envelope.arrival_us, to_us(now), cfg_.queue);
            if (metrics_)
                count_delivery(*metrics_, rr, st, now - from_us(info.envelope.arrival_us));
            if (relay::expired(rr.state, st)) expired[rr.message] = true;
            updates[rr.message].push_back({ri, st});
        }
        applied = all.size();
        for (auto& u : updates) co_await record(infos[u.first].id, std::move(u.second), decided);
    };
    auto report = co_await deliver(dest, batch, tls_, options, apply, &connections_);
    for (const auto& line : report.log) log_.info(Role::smtp, line);
    if (evidence_)
        evidence_->write(evidence(dest, report, infos, indexes, sts ? &*sts : nullptr, ask));
    // TLSRPT: a message that asked for no policy says nothing about the domain's.
    if (observe_attempt_ && ask != TlsAsk::optional)
        observe_attempt_(dest, sts ? &*sts : nullptr, report, batch);
    if (applied < report.recipients.size()) co_await apply(report.recipients, applied);

    for (std::size_t m = 0; m < batch.size(); ++m) {
        const auto& id = infos[m].id;
        if (*failures[m] == SpoolErrc::corrupt) {
            // Damaged after its check: the transaction was dropped before ".", nothing was
            // delivered; bounce and quarantine it as if the check had found it.
            if (auto info = current(id)) co_await unreadable(*info, indexes[m], *failures[m]);
            continue;
        }
        if (expired[m])
            log_.info(Role::qmgr, id + ": from=<" + infos[m].envelope.sender +
                                      ">, status=expired, returned to sender");
        auto info = current(id);
        if (info && info->done())
            co_await finish(id);
        else if (info)
            co_await warn_if_delayed(*info);
    }
    arm_timer();
}

// RFC 8461: the domain's MTA-STS policy, where it could matter (dane::sts_wanted). A fetch
// or a policy that failed is a warning (with the RFC 8460 result type); without a cached
// policy the destination is then used as if it had none (RFC 8461 §5.1).
asio::awaitable<std::optional<StsFound>> Scheduler::apply_sts(dane::Destination& dest) {
    if (!sts_ || !cfg_.sts || !dane::sts_wanted(dest)) co_return std::nullopt;
    auto found = co_await sts_->find(dest.domain);
    if (!found.failure.empty())
        log_.warning(Role::smtp, "MTA-STS policy for " + dest.domain + ": " + found.failure + ": " +
                                     found.why +
                                     (found.policy ? " (the cached policy applies)" : ""));
    if (found.policy) dane::apply_sts(dest, *found.policy);
    co_return found;
}

// Postfix's delay_warning_time, checked where Postfix's qmgr checks it: when an attempt of the
// message ends with recipients left (so it costs nothing per timer tick, only per attempt).
// One notice per message: its D mark (spool), and meanwhile delay_noticing_.
asio::awaitable<void> Scheduler::warn_if_delayed(const MessageInfo& info) {
    const auto warning_us =
        std::chrono::duration_cast<std::chrono::microseconds>(cfg_.queue.delay_warning_time);
    if (!delay_notice_due(info, to_us(Clock::now()), warning_us.count())) co_return;
    if (!delay_noticing_.insert(info.id).second) co_return;
    const auto lifetime =
        std::chrono::duration_cast<std::chrono::microseconds>(cfg_.queue.maximal_queue_lifetime);
    const auto until = lifetime.count() > 0 ? info.envelope.arrival_us + lifetime.count() : 0;
    auto notice = co_await queue_delay_notice(spool_, log_, cfg_.hostname, info, until);
    if (notice.kind == NoticeResult::Kind::queued) enqueue(notice.id);
    // Not queued: tried again after the next attempt. Not marked: kept here, not sent again.
    if (notice.marked) delay_noticing_.erase(info.id);
}

// A body that cannot be read is never just dropped: a transient error (EMFILE, EIO, …) defers
// its recipients like a failed attempt (so it expires in time); damage (CRC) bounces them, and
// finish() tells the sender and moves the file to corrupt/.
asio::awaitable<void> Scheduler::unreadable(const MessageInfo& info,
                                            const std::vector<std::size_t>& rcpts,
                                            std::error_code ec) {
    const bool damaged = ec == SpoolErrc::corrupt;
    log_.warning(Role::qmgr, info.id + ": cannot read queue file: " + ec.message() +
                                 (damaged ? "; returned to sender" : "; will retry"));
    const Moment decided;
    const auto now = to_us(decided.wall);
    std::vector<StatusUpdate> ups;
    for (auto r : rcpts)
        ups.push_back(
            {r,
             next_state(info.rcpts[r], damaged ? RecipientState::bounced : RecipientState::deferred,
                        damaged ? "5.3.0" : "4.3.0", "cannot read queue file: " + ec.message(),
                        info.envelope.arrival_us, now, cfg_.queue)});
    co_await record(info.id, std::move(ups), decided);
    if (auto cur = current(info.id); cur && cur->done()) co_await finish(info.id);
    arm_timer();
}

// A finished message: its notice queued if one is owed, then removed (or, when its body is
// damaged, moved to corrupt/). A notice that cannot be queued now is tried again later; the
// message stays until it is (Postfix defers when bounce_append fails). A body that cannot be
// read is waited for until maximal_queue_lifetime; then the notice goes without the content.
asio::awaitable<void> Scheduler::finish(std::string id) {
    if (!finishing_.insert(id).second) co_return;
    auto info = current(id);
    bool damaged = false;
    if (info && info->done() && owes_notice(*info)) {
        auto read = co_await spool_.async_read_body(id, asio::use_awaitable);
        const std::error_code ec = read.ec;
        std::string& content = read.body;
        damaged = ec == SpoolErrc::corrupt;
        // A body still unreadable past maximal_queue_lifetime is not waited for any longer.
        const bool too_old = to_us(Clock::now()) - info->envelope.arrival_us >=
                             std::chrono::microseconds(cfg_.queue.maximal_queue_lifetime).count();
        if (ec && !damaged)
            log_.warning(Role::qmgr, id + ": cannot read queue file: " + ec.message() +
                                         (too_old ? "; notice sent without the content" : ""));
        if (ec) content.clear();  // the sender is told without the content
        bool queued = false;
        if (!ec || damaged || too_old) queued = co_await queue_notice_for(*info, content);
        if (!queued) {
            finishing_.erase(id);
            later(id);
            co_return;
        }
        info = current(id);  // with the notice's ID
    }
    if (info && info->done()) {
        std::error_code ec;
        if (damaged)
            ec = co_await spool_.async_move_to_corrupt(id, asio::use_awaitable);
        else
            ec = co_await removals_.remove(id);
        if (ec && ec != SpoolErrc::not_found && spool_.spool().get(id)) {
            // The unlink or rename failed: the message is still queued; try again later.
            log_.warning(Role::qmgr, id + ": cannot remove queue file: " + ec.message());
            finishing_.erase(id);
            later(id);
            co_return;
        }
        if (damaged) {
            log_.warning(Role::qmgr, id + ": queue file damaged, moved to corrupt/");
        } else {
            log_.info(Role::qmgr, id + ": removed");
            sync_removals_soon();
        }
        active_since_.erase(id);
        unsaved_.erase(id);
        if (info->notice != "none") sent_notices_.erase(info->notice);
    }
    finishing_.erase(id);
}

// Removals are made durable in groups: an fsync of queue/ at most removal_sync_delay after
// the first one that no fsync covers yet. Under load the next commit's fsync covers them and
// this one finds nothing to do (Spool::sync_removals).
void Scheduler::sync_removals_soon() {
    if (removal_sync_armed_) return;
    removal_sync_armed_ = true;
    asio::co_spawn(ex_, sync_removals(), asio::detached);
}

asio::awaitable<void> Scheduler::sync_removals() {
    asio::steady_timer t(ex_);
    t.expires_after(removal_sync_delay);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    removal_sync_armed_ = false;
    if (auto sec = co_await spool_.async_sync_removals(asio::use_awaitable))
        log_.warning(Role::qmgr, "cannot fsync the queue directory after removals: " +
                                     sec.message() + "; tried again by the next commit");
}

// Queues the notice (queue_bounce_notice marks its ID in the original's journal first, so
// that a restart before the removal does not queue a second one). False when it could not be queued
// (try again later).
asio::awaitable<bool> Scheduler::queue_notice_for(const MessageInfo& info,
                                                  const std::string& content) {
    auto notice = co_await queue_bounce_notice(spool_, log_, cfg_.hostname, info, content);
    if (on_notice_failure(FailureAction::bounce, notice.queued_or_not_wanted()) ==
        FailureAction::defer) {
        log_.warning(Role::qmgr, info.id + ": bounce notice not queued; tried again in " +
                                     std::to_string(cfg_.queue.minimal_backoff.count()) + "s");
        co_return false;
    }
    if (notice.kind == NoticeResult::Kind::queued) {
        sent_notices_.insert(notice.id);
        enqueue(notice.id);
    } else {
        // None wanted: say so, so that a restart does not compose it again.
        co_await spool_.async_mark_notice(info.id, "", asio::use_awaitable);
    }
    co_return true;
}

// Once per message at a time: after minimal_backoff, write its unsaved states again and
// finish it if it is done (its notice was not queued, or its states were not written).
void Scheduler::later(const std::string& id) {
    if (retrying_.insert(id).second) asio::co_spawn(ex_, retry_later(id), asio::detached);
}

asio::awaitable<void> Scheduler::retry_later(std::string id) {
    asio::steady_timer t(ex_);
    t.expires_after(cfg_.queue.minimal_backoff);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    retrying_.erase(id);
    if (stopping_) co_return;
    const Moment now;
    std::vector<StatusUpdate> none;
    if (unsaved_.count(id)) co_await record(id, std::move(none), now);
    if (auto info = current(id); info && info->done()) co_await finish(id);
}

// The MTA-STS policy of an attempt for its evidence line: what applied, or why none did.
static boost::json::value sts_json(const StsFound* sts) {
    namespace json = boost::json;
    if (!sts) return nullptr;  // not looked up
    json::object o{{"failure", sts->failure}, {"why", sts->why}};
    if (sts->policy) {
        json::array mx;
        for (const auto& m : sts->policy->mx) mx.push_back(json::value(m));
        o["policy"] = json::object{{"mode", dane::to_string(sts->policy->mode)},
                                   {"max_age", sts->policy->max_age},
                                   {"mx", std::move(mx)}};
    } else {
        o["policy"] = nullptr;
    }
    return o;
}

boost::json::value Scheduler::evidence(const dane::Destination& dest, const AttemptReport& report,
                                       const std::vector<MessageInfo>& infos,
                                       const std::vector<std::vector<std::size_t>>& indexes,
                                       const StsFound* sts, TlsAsk ask) const {
    namespace json = boost::json;
    json::object out = destination_json(dest);
    out["time"] = to_us(Clock::now());
    out["sts"] = sts_json(sts);
    out["requested"] = ask == TlsAsk::requiretls ? "requiretls"
                       : ask == TlsAsk::optional ? "tls-required-no"
                                                 : "policy";
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
    connections_.close_all();
}

}  // namespace dr::relay
