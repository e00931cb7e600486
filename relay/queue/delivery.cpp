#include "relay/queue/delivery.hpp"

#include <map>

#include "conf/config.hpp"
#include "relay/log/log.hpp"
#include "relay/queue/trouble.hpp"

namespace dr::relay {

smtp::Envelope with_recipients(const smtp::Envelope& env, const std::vector<std::size_t>& indexes) {
    smtp::Envelope out = env;
    out.recipients.clear();
    for (auto i : indexes) out.recipients.push_back(env.recipients.at(i));
    return out;
}

std::vector<Candidate> candidates(const dane::Destination& d, std::size_t address_limit) {
    std::vector<Candidate> out;
    for (const auto& h : d.hosts)
        if (!h.plan.failure)
            for (const auto& ip : h.plan.addresses)
                if (address_limit == 0 || out.size() < address_limit) out.push_back({&h.plan, ip});
    return out;
}

ConnectOptions with_deadline(ConnectOptions options, std::chrono::steady_clock::time_point now) {
    if (options.attempt_timeout > std::chrono::milliseconds::zero())
        options.deadline = now + options.attempt_timeout;
    return options;
}

namespace {

class Attempt {
  public:
    Attempt(const dane::Destination& d, const std::vector<OutboundMessage>& batch,
            ProgressHook progress, ConnectionCache* cache)
        : d_(d), batch_(batch), progress_(std::move(progress)), cache_(cache) {
        for (std::size_t m = 0; m < batch.size(); ++m)
            for (std::size_t r = 0; r < batch[m].envelope.recipients.size(); ++r)
                pending_[{m, r}] = true;
    }

    asio::awaitable<AttemptReport> run(asio::ssl::context& tls, const ConnectOptions& options) {
        log_ = options.log;
        if (d_.mx_plan.failure) {
            finish_all(to_status(*d_.mx_plan.failure), "none");
            co_return std::move(report_);
        }
        for (const auto& h : d_.hosts)
            if (h.plan.failure) trouble_.note(*h.plan.failure);
        auto list = candidates(d_, options.mx_address_limit);
        const std::size_t max_sessions = options.mx_session_limit;
        std::size_t sessions = 0;
        if (co_await try_cached(list, options)) ++sessions;
        for (std::size_t i = 0; i < list.size() && !pending_.empty(); ++i) {
            if (max_sessions && sessions >= max_sessions) break;
            if (options.deadline && std::chrono::steady_clock::now() >= *options.deadline) {
                trouble_.note(smtp::DeliveryStatus::temp("4.4.2", "delivery time limit exceeded"),
                              "none");
                break;
            }
            bool last = i + 1 == list.size() || (max_sessions && sessions + 1 >= max_sessions);
            if (co_await try_host(list[i], last, tls, options)) ++sessions;
        }
        finish_all(trouble_.verdict(), trouble_.relay());
        co_return std::move(report_);
    }

  private:
    // True when the session got through its handshake (greeting, EHLO, TLS): what counts
    // towards mx_session_limit, as in Postfix, which does not count handshake failures.
    asio::awaitable<bool> try_host(const Candidate& c, bool last_host, asio::ssl::context& tls,
                                   const ConnectOptions& options) {
        const auto opened = std::chrono::steady_clock::now();
        auto conn = co_await connect_host(*c.plan, c.address, d_.context.port, tls, options);
        for (auto& l : conn.log) report_.log.push_back(std::move(l));
        report_.connections.push_back({conn.relay, conn.status, conn.tls, c.plan->host,
                                       conn.address,
                                       conn.session && conn.session->starttls_offered()});
        feature_[conn.relay] = tls_feature(*c.plan, conn);
        if (!conn.status.ok()) {
            log(conn.relay + ": " + truncate_reply(conn.status.reason));
            trouble_.note(conn.status, conn.relay);
            co_return false;
        }
        co_await send_all(conn, last_host);
        if (!park(c, conn, opened) && conn.session->usable()) co_await conn.session->quit();
        co_return true;
    }

    // A connection parked by an earlier attempt to one of these candidates (same destination
    // and TLS plan: ConnectionCache::key) carries the batch first. True when it carried any
    // of it; false also when it turned out dead at its RSET (the candidates are then tried
    // afresh, as if it had not been there).
    asio::awaitable<bool> try_cached(const std::vector<Candidate>& list,
                                     const ConnectOptions& options) {
        if (!cache_) co_return false;
        for (std::size_t i = 0; i < list.size(); ++i) {
            auto parked =
                cache_->take(ConnectionCache::key(d_, *list[i].plan, list[i].address.to_string()));
            if (!parked) continue;
            auto& conn = parked->conn;
            conn.session->set_deadline(options.deadline);
            feature_[conn.relay] = tls_feature(*list[i].plan, conn);
            const bool last = i + 1 == list.size();
            const bool any = co_await send_all(conn, last);
            if (!park(list[i], conn, parked->opened) && conn.session->usable())
                co_await conn.session->quit();
            co_return any;
        }
        co_return false;
    }

    // Parks a connection that is still usable for the next attempt. False when it is not
    // wanted there (no cache, or no backlog for the destination): the caller says QUIT.
    bool park(const Candidate& c, HostConnection& conn,
              std::chrono::steady_clock::time_point opened) {
        if (!cache_ || !cache_->wanted(d_.domain)) return false;
        if (conn.session->usable())
            cache_->park(ConnectionCache::key(d_, *c.plan, c.address.to_string()),
                         ParkedConnection{std::move(conn), opened});
        return true;
    }

    // Every pending message of the batch over `conn`, with RSET between transactions (and
    // before the first on a reused connection). True when a transaction was started.
    asio::awaitable<bool> send_all(HostConnection& conn, bool last_host) {
        int uses = static_cast<int>(conn.session->uses());
        bool any = false;
        for (std::size_t m = 0; m < batch_.size() && conn.session->usable(); ++m) {
            std::vector<std::size_t> rcpts = pending_of(m);
            if (rcpts.empty()) continue;
            if (uses > 0) {
                auto rs = co_await conn.session->reset();
                if (!rs.ok()) break;
            }
            any = true;
            ++uses;
            auto env = with_recipients(batch_[m].envelope, rcpts);
            smtp::TransactionResult tr;
            if (batch_[m].source) {
                auto source = batch_[m].source();
                tr = co_await conn.session->send(env, *source);
            } else {
                tr = co_await conn.session->send(env, batch_[m].content);
            }
            for (std::size_t k = 0; k < rcpts.size(); ++k) {
                const auto& st = k < tr.recipients.size() ? tr.recipients[k] : tr.status;
                // A recipient accepted at RCPT shares the fate of the transaction
                // (the end-of-data reply is what Postfix logs for "sent").
                const auto& eff = st.ok() ? tr.status : st;
                RecipientResult r = base(m, rcpts[k], conn, uses, tr.transmission);
                if (eff.ok()) {
                    record(r, RecipientState::sent, eff);
                    continue;
                }
                switch (on_failure(eff, last_host)) {
                    case FailureAction::bounce:
                        record(r, RecipientState::bounced, eff);
                        break;
                    case FailureAction::defer:
                        record(r, RecipientState::deferred, eff);
                        break;
                    case FailureAction::next_host:
                        trouble_.note(eff, conn.relay);
                        break;
                }
            }
            if (progress_ && reported_ < report_.recipients.size()) {
                auto first = reported_;
                reported_ = report_.recipients.size();
                co_await progress_(report_.recipients, first);
            }
        }
        co_return any;
    }

    void log(std::string line) {
        if (log_)
            log_(line);
        else
            report_.log.push_back(std::move(line));
    }

    // The "tls=" field for a recipient whose verdict was reached at `relay`; with no
    // connection the domain's policy, marked undecided ("dane?"): no host's level applied.
    std::string feature_at(const std::string& relay) const {
        auto it = feature_.find(relay);
        if (it != feature_.end()) return it->second;
        return std::string(conf::to_string(d_.context.level)) + "?";
    }

    std::vector<std::size_t> pending_of(std::size_t m) const {
        std::vector<std::size_t> out;
        for (auto it = pending_.lower_bound({m, 0}); it != pending_.end() && it->first.first == m;
             ++it)
            out.push_back(it->first.second);
        return out;
    }

    RecipientResult base(std::size_t m, std::size_t r, const HostConnection& conn, int uses,
                         std::chrono::steady_clock::duration d) const {
        RecipientResult out;
        out.message = m;
        out.recipient = r;
        out.relay = conn.relay;
        if (conn.tls) out.tls = conn.tls->trust;
        out.tls_feature = feature_at(conn.relay);
        out.conn_use = uses;
        out.setup = conn.session->setup_time();
        out.transmission = d;
        return out;
    }

    void record(RecipientResult r, RecipientState state, const smtp::DeliveryStatus& s) {
        r.state = state;
        r.dsn = s.dsn;
        r.text = truncate_reply(s.reason);  // the log, the journal and the notice keep this
        pending_.erase({r.message, r.recipient});
        report_.recipients.push_back(std::move(r));
    }

    // Everything still pending gets the final verdict.
    void finish_all(const smtp::DeliveryStatus& s, const std::string& relay) {
        auto state = s.permanent() ? RecipientState::bounced : RecipientState::deferred;
        while (!pending_.empty()) {
            auto [m, r] = pending_.begin()->first;
            RecipientResult out;
            out.message = m;
            out.recipient = r;
            out.relay = relay;
            out.tls_feature = feature_at(relay);
            record(out, state, s);
        }
    }

    const dane::Destination& d_;
    const std::vector<OutboundMessage>& batch_;
    std::map<std::pair<std::size_t, std::size_t>, bool> pending_;
    AttemptTrouble trouble_;
    AttemptReport report_;
    std::function<void(const std::string&)> log_;  // ConnectOptions::log
    std::map<std::string, std::string> feature_;   // relay -> its "tls=" field
    ProgressHook progress_;
    ConnectionCache* cache_;
    std::size_t reported_ = 0;  // results already passed to progress_
};

}  // namespace

asio::awaitable<AttemptReport> deliver(const dane::Destination& destination,
                                       const std::vector<OutboundMessage>& batch,
                                       asio::ssl::context& tls, const ConnectOptions& options,
                                       ProgressHook progress, ConnectionCache* cache) {
    Attempt attempt(destination, batch, std::move(progress), cache);
    co_return co_await attempt.run(tls, with_deadline(options, std::chrono::steady_clock::now()));
}

}  // namespace dr::relay
