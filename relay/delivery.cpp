#include "relay/delivery.hpp"

#include <map>

namespace dr::relay {

const char* to_string(RecipientState s) {
    switch (s) {
        case RecipientState::sent:
            return "sent";
        case RecipientState::deferred:
            return "deferred";
        case RecipientState::bounced:
            return "bounced";
    }
    return "?";
}

FailureAction decide_failure(const smtp::DeliveryStatus& status, bool last_host) {
    if (status.permanent()) return FailureAction::bounce;
    return last_host ? FailureAction::defer : FailureAction::next_host;
}

namespace {

struct Candidate {
    const dane::HostPlan* plan;
    dane::IpAddress address;
};

// Every (host, address) pair to try, in order; hosts the plan rules out
// contribute only their failure.
std::vector<Candidate> candidates(const dane::Destination& d) {
    std::vector<Candidate> out;
    for (const auto& h : d.hosts)
        if (!h.plan.failure)
            for (const auto& ip : h.plan.addresses) out.push_back({&h.plan, ip});
    return out;
}

smtp::DeliveryStatus from_failure(const dane::Failure& f) {
    return f.permanent ? smtp::DeliveryStatus::perm(f.dsn, f.reason)
                       : smtp::DeliveryStatus::temp(f.dsn, f.reason);
}

// The failure that stands when no host took the mail: the last one seen,
// permanent only when every failure was permanent (Postfix: a soft error
// anywhere makes the whole attempt soft).
struct LastFailure {
    std::optional<smtp::DeliveryStatus> status;
    std::string relay = "none";
    bool any_temporary = false;
    void note(const smtp::DeliveryStatus& s, std::string where) {
        status = s;
        relay = std::move(where);
        any_temporary |= !s.permanent();
    }
    smtp::DeliveryStatus final() const {
        smtp::DeliveryStatus s =
            status.value_or(smtp::DeliveryStatus::temp("4.4.3", "no usable mail host"));
        if (any_temporary && s.permanent()) s.kind = smtp::DeliveryStatus::Kind::temporary;
        return s;
    }
};

class Attempt {
  public:
    Attempt(const dane::Destination& d, const std::vector<OutboundMessage>& batch,
            ProgressHook progress)
        : d_(d), batch_(batch), progress_(std::move(progress)) {
        for (std::size_t m = 0; m < batch.size(); ++m)
            for (std::size_t r = 0; r < batch[m].envelope.recipients.size(); ++r)
                pending_[{m, r}] = true;
    }

    asio::awaitable<AttemptReport> run(asio::ssl::context& tls, const ConnectOptions& options) {
        if (d_.mx_plan.failure) {
            finish_all(from_failure(*d_.mx_plan.failure), "none");
            co_return std::move(report_);
        }
        for (const auto& h : d_.hosts)
            if (h.plan.failure) last_.note(from_failure(*h.plan.failure), "none");
        auto list = candidates(d_);
        for (std::size_t i = 0; i < list.size() && !pending_.empty(); ++i)
            co_await try_host(list[i], i + 1 == list.size(), tls, options);
        finish_all(last_.final(), last_.relay);
        co_return std::move(report_);
    }

  private:
    asio::awaitable<void> try_host(const Candidate& c, bool last_host, asio::ssl::context& tls,
                                   const ConnectOptions& options) {
        auto conn = co_await connect_host(*c.plan, c.address, d_.context.port, tls, options);
        for (auto& l : conn.log) report_.log.push_back(std::move(l));
        report_.connections.push_back({conn.relay, conn.status, conn.tls});
        if (!conn.status.ok()) {
            report_.log.push_back(conn.relay + ": " + conn.status.reason);
            last_.note(conn.status, conn.relay);
            co_return;
        }
        int uses = 0;
        for (std::size_t m = 0; m < batch_.size() && conn.session->usable(); ++m) {
            std::vector<std::size_t> rcpts = pending_of(m);
            if (rcpts.empty()) continue;
            if (uses > 0) {
                auto rs = co_await conn.session->reset();
                if (!rs.ok()) break;
            }
            ++uses;
            smtp::Envelope env = batch_[m].envelope;
            env.recipients.clear();
            for (auto r : rcpts) env.recipients.push_back(batch_[m].envelope.recipients[r]);
            auto tr = co_await conn.session->send(env, batch_[m].content);
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
                switch (decide_failure(eff, last_host)) {
                    case FailureAction::bounce:
                        record(r, RecipientState::bounced, eff);
                        break;
                    case FailureAction::defer:
                        record(r, RecipientState::deferred, eff);
                        break;
                    case FailureAction::next_host:
                        last_.note(eff, conn.relay);
                        break;
                }
            }
            if (progress_ && reported_ < report_.recipients.size()) {
                auto first = reported_;
                reported_ = report_.recipients.size();
                co_await progress_(report_.recipients, first);
            }
        }
        if (conn.session->usable()) co_await conn.session->quit();
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
        out.conn_use = uses;
        out.setup = conn.session->setup_time();
        out.transmission = d;
        return out;
    }

    void record(RecipientResult r, RecipientState state, const smtp::DeliveryStatus& s) {
        r.state = state;
        r.dsn = s.dsn;
        r.text = s.reason;
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
            record(out, state, s);
        }
    }

    const dane::Destination& d_;
    const std::vector<OutboundMessage>& batch_;
    std::map<std::pair<std::size_t, std::size_t>, bool> pending_;
    LastFailure last_;
    AttemptReport report_;
    ProgressHook progress_;
    std::size_t reported_ = 0;  // results already passed to progress_
};

}  // namespace

asio::awaitable<AttemptReport> deliver(const dane::Destination& destination,
                                       const std::vector<OutboundMessage>& batch,
                                       asio::ssl::context& tls, const ConnectOptions& options,
                                       ProgressHook progress) {
    Attempt attempt(destination, batch, std::move(progress));
    co_return co_await attempt.run(tls, options);
}

}  // namespace dr::relay
