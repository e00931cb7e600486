// The queue manager (SPEC §4): which recipients are due, grouped by destination domain and
// batched (batch.hpp); at most `concurrency` deliveries at once and `destination_concurrency`
// per domain; each delivery takes a batch of messages over one connection. Each outcome is
// logged in Postfix's words and made durable after its transaction; next states come from
// retry.hpp (backoff, expiry) and the failure policy from trouble.hpp. A finished message with
// bounced recipients gets its notice queued (notices.hpp) and marked in its journal before it
// is removed; a notice that cannot be queued is tried again after minimal_backoff, and start()
// queues the notices still owed. Delay notices (delay_warning_time) are checked when an attempt
// of a message ends with recipients left, and marked in its journal (notices.hpp). A status that
// cannot be written is kept in memory (the recipient is not delivered again) and written again
// later; a body that cannot be read is deferred (transient errno) or bounced and moved to corrupt/
// (damage). Retries wait on steady time; the spool stores wall-clock times. Entry points:
// Scheduler::start, enqueue, flush, drain. Nothing is lost; a recipient is delivered at most twice
// (a crash before its status write). At scale (a million queued messages): deferred messages wait
// in a WaitList (one entry each, no envelope), at most `active_limit` recipients are due or in
// flight at once (the rest wait, as Postfix's qmgr_message_active_limit), and every event costs
// O(log n). New connections resume TLS sessions of earlier ones made under the same host,
// address, port and TLS plan (dane/session_cache.hpp, SPEC §5.6).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "conf/config.hpp"
#include "dane/resolver.hpp"
#include "dane/session_cache.hpp"
#include "relay/log/evidence.hpp"
#include "relay/log/log.hpp"
#include "relay/queue/batch.hpp"
#include "relay/queue/delivery.hpp"
#include "relay/queue/in_flow.hpp"
#include "relay/queue/notices.hpp"
#include "relay/queue/retry.hpp"
#include "relay/queue/wait_list.hpp"
#include "relay/spool/async_spool.hpp"
#include "relay/spool/removal_group.hpp"

namespace dr::relay {

namespace asio = boost::asio;
class Metrics;
struct StsFound;
class StsPolicies;

struct SchedulerConfig {
    conf::QueueConfig queue;
    conf::PolicyConfig policy;
    std::string hostname = "localhost";
    std::size_t concurrency = 100;
    std::size_t destination_concurrency = 20;
    std::size_t batch = 50;              // messages per connection before it is closed
    bool tls_feature_status = true;      // "tls=" in delivery lines ([log] tls_feature_status)
    bool sts = true;                     // [sts] enabled: MTA-STS policies apply (set_sts)
    bool honour_tls_required_no = true;  // [requiretls] tls_required_no (RFC 8689 §4.2.2)
    // SPEC §12: slow destinations (last attempt took slow_attempt_time or more) together hold
    // at most slow_concurrency deliveries; free slots go round-robin (choose_starts).
    std::size_t slow_concurrency = 25;
    std::chrono::steady_clock::duration slow_attempt_time = std::chrono::seconds(60);
    ConnectOptions connect;  // timeouts and limits of each attempt; helo_name is `hostname`
    ConnectionCache::Limits connection_cache;  // connections kept between attempts
    dane::SessionCache::Limits tls_sessions;   // SPEC §5.6: TLS sessions kept for resumption
    // Recipients due or in flight at most; messages due beyond it wait their turn in order.
    std::size_t active_limit = 20000;
};

class Scheduler {
  public:
    Scheduler(asio::any_io_executor ex, AsyncSpool& spool, dane::Resolver& resolver,
              asio::ssl::context& tls, Logger& log, SchedulerConfig cfg);

    void start();  // queue everything the spool holds (in the background, a page at a time)
    void enqueue(const std::string& id);  // a message just committed
    void flush();                         // every deferred recipient is due now
    void reconfigure(SchedulerConfig cfg) { cfg_ = std::move(cfg); }
    // SPEC §6: one JSON line of DANE evidence per delivery attempt (optional).
    void set_evidence_log(EvidenceLog* log) { evidence_ = log; }
    // SPEC §10: the counters of delivery and TLS lines (optional).
    void set_metrics(Metrics* metrics) { metrics_ = metrics; }
    // Inbound flow control: a token back whenever an attempt on a message ends.
    void set_in_flow(InFlow* in_flow) { in_flow_ = in_flow; }
    // MTA-STS (RFC 8461): where a destination has no usable DANE, the domain's policy from
    // here applies (dane/sts_plan.hpp), when SchedulerConfig::sts is on. Unset: never.
    void set_sts(StsPolicies* sts) { sts_ = sts; }
    // Told of every delivery attempt as it ends (TLSRPT counts it), on the queue's loop;
    // `sts` is the MTA-STS policy found for it (null: not looked up).
    // `batch`: the messages it carried (their senders, for what is not to be counted).
    using AttemptObserver =
        std::function<void(const dane::Destination&, const StsFound* sts, const AttemptReport&,
                           const std::vector<OutboundMessage>& batch)>;
    void set_attempt_observer(AttemptObserver f) { observe_attempt_ = std::move(f); }
    asio::awaitable<void> drain();  // stop starting deliveries, wait for running ones
    std::size_t running() const { return running_; }

  private:
    using Clock = std::chrono::system_clock;
    using Steady = std::chrono::steady_clock;
    // An instant on both clocks: a retry time decided then (wall) is waited for from then
    // (steady), however long its state takes to write and however the wall clock steps.
    struct Moment {
        Clock::time_point wall = Clock::now();
        Steady::time_point steady = Steady::now();
    };
    std::optional<MessageInfo> current(const std::string& id) const;
    std::optional<MessageInfo> current(const std::string& id, std::error_code& ec) const;
    asio::awaitable<void> scan();
    bool owes_notice(const MessageInfo& info) const;
    bool take_in(const std::string& id, bool woken, std::int64_t due_until_us, bool announced);
    void add_due(const std::string& id, std::size_t rcpt, const std::string& domain);
    void wait(const std::string& id, std::int64_t wall_us, bool announced,
              WaitList::Keep keep = WaitList::Keep::earliest);
    void wait(const std::string& id, std::int64_t wall_us, bool announced, WaitList::Keep keep,
              Moment from);
    bool is_queued(const std::string& id) const;
    void leave_active(const std::string& id);
    void pump();
    void pump_soon();
    void arm_timer();
    void wake();
    asio::awaitable<void> worker(std::string domain, bool slow);
    Pace pace(const std::string& domain) const;
    bool is_slow(const std::string& domain) const { return pace(domain) == Pace::slow; }
    void note_speed(const std::string& domain, std::chrono::steady_clock::duration took);
    asio::awaitable<void> record(const std::string& id, std::vector<StatusUpdate> ups,
                                 Moment decided);
    bool removable_with(const std::string& id, const std::vector<StatusUpdate>& states) const;
    asio::awaitable<void> unreadable(const MessageInfo& info, const std::vector<std::size_t>& rcpts,
                                     std::error_code ec);
    asio::awaitable<void> finish(std::string id);
    void sync_removals_soon();
    asio::awaitable<void> sync_removals();
    static constexpr std::chrono::milliseconds removal_sync_delay{100};
    asio::awaitable<bool> queue_notice_for(const MessageInfo& info, const std::string& content);
    asio::awaitable<void> warn_if_delayed(const MessageInfo& info);
    void later(const std::string& id);
    asio::awaitable<void> retry_later(std::string id);
    asio::awaitable<std::optional<StsFound>> apply_sts(dane::Destination& dest);
    std::string queue_of(const QueuedEnvelope& env, std::size_t rcpt) const;
    asio::awaitable<void> deliver_batch(const std::string& queue,
                                        std::vector<BatchedMessage> groups);
    DeliveryRecord record_of(const MessageInfo& info, std::size_t rcpt, const RecipientResult& rr,
                             Clock::time_point t0, Clock::duration dns_time,
                             Clock::time_point now) const;
    boost::json::value evidence(const dane::Destination& dest, const AttemptReport& report,
                                const std::vector<MessageInfo>& infos,
                                const std::vector<std::vector<std::size_t>>& indexes,
                                const StsFound* sts, TlsAsk ask) const;

    asio::any_io_executor ex_;
    AsyncSpool& spool_;
    dane::Resolver& resolver_;
    asio::ssl::context& tls_;
    Logger& log_;
    SchedulerConfig cfg_;
    EvidenceLog* evidence_ = nullptr;
    Metrics* metrics_ = nullptr;
    InFlow* in_flow_ = nullptr;
    StsPolicies* sts_ = nullptr;
    AttemptObserver observe_attempt_;
    std::mt19937 rng_{std::random_device{}()};

    std::map<std::string, DueQueue> due_;             // domain -> due, FIFO
    std::map<std::string, std::size_t> running_per_;  // domain -> deliveries running
    struct Speed {
        bool slow = false;
        std::chrono::steady_clock::time_point at;  // of the last attempt's end
    };
    std::map<std::string, Speed> speed_;  // destinations attempted lately (SPEC §12 fairness)
    std::size_t running_slow_ = 0;        // deliveries to slow destinations
    std::string next_first_;              // where the next pump starts handing out slots
    // Deferred messages by when they are due, on steady time (a clock step cannot starve them).
    WaitList waiting_;
    std::set<std::pair<std::string, std::size_t>> queued_;  // in due_ or in flight
    // States whose spool write failed, newer than the spool's: id -> rcpt -> state.
    std::map<std::string, std::map<std::size_t, RcptState>> unsaved_;
    std::set<std::string> retrying_;      // messages with a retry_later() pending
    std::set<std::string> finishing_;     // messages in finish(), so one notice each
    std::set<std::string> sent_notices_;  // notices committed for messages not yet removed
    // Delay notices being queued, or queued but not marked in the spool (so not sent again).
    std::set<std::string> delay_noticing_;
    // Messages in the active queue (a recipient due or in flight) -> when they entered it.
    std::map<std::string, Clock::time_point> active_since_;
    asio::steady_timer timer_;
    asio::steady_timer idle_;      // signalled when running_ drops to zero while draining
    dane::SessionCache sessions_;  // TLS sessions for resumption (SPEC §5.6)
    ConnectionCache connections_;
    RemovalGroups removals_;  // finished messages' unlinks, one pool job per group
    bool removal_sync_armed_ = false;
    std::size_t running_ = 0;
    bool stopping_ = false;
    bool pump_posted_ = false;
};

}  // namespace dr::relay
