#include "relay/queue/connect.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/this_coro.hpp>

#include "relay/metrics/metrics.hpp"
#include "smtp/peer_name.hpp"

namespace dr::relay {

smtp::TlsMode tls_mode(dane::TlsRequirement r) {
    switch (r) {
        case dane::TlsRequirement::none:
            return smtp::TlsMode::none;
        case dane::TlsRequirement::may:
            return smtp::TlsMode::opportunistic;
        default:
            return smtp::TlsMode::required;  // encrypt, verify, dane
    }
}

namespace {
// What the TLS hooks learn; shared because the session keeps its hooks.
struct HookState {
    dane::HostPlan plan;
    std::string relay;
    std::function<void(const std::string&)> sink;  // ConnectOptions::log
    Metrics* metrics = nullptr;
    dane::SessionCache* sessions = nullptr;
    std::string session_key;        // with `sessions`
    bool offered = false;           // a cached session was offered to the server
    std::vector<std::string> held;  // the lines, without a sink
    std::optional<std::string> prepare_error;
    std::optional<dane::TlsOutcome> outcome;

    void emit(std::string line) {
        if (sink)
            sink(line);
        else
            held.push_back(std::move(line));
    }

    bool prepare(SSL* ssl) {
        prepare_error = dane::prepare(ssl, plan);
        if (prepare_error) return false;
        if (sessions) offered = sessions->offer(ssl, session_key);
        return true;
    }

    // SPEC §5.6: a resumed session was not verified again; it reports the verdict it was
    // cached with, which only a handshake under the same plan and TLSA RRset made.
    dane::TlsOutcome judge(SSL* ssl) const {
        auto original = sessions ? sessions->resumed(ssl) : std::nullopt;
        return original ? dane::inspect_resumed(ssl, plan, *original) : dane::inspect(ssl, plan);
    }

    std::optional<smtp::DeliveryStatus> verify(SSL* ssl) {
        outcome = judge(ssl);
        if (sessions) sessions->settle(ssl, *outcome);
        // Postfix logs the TLS line when the handshake completes, before any delivery line,
        // and the same line for a resumed session.
        emit(dane::tls_established_line(*outcome, relay));
        if (metrics) metrics->tls_connection(dane::to_string(outcome->trust), outcome->resumed);
        if (auto m = dane::dane_match_line(*outcome, relay); !m.empty()) emit(std::move(m));
        if (!outcome->failure) return std::nullopt;
        return smtp::DeliveryStatus::temp(outcome->failure->dsn, outcome->failure->reason);
    }
};
}  // namespace

std::string tls_feature(const dane::HostPlan& plan, const HostConnection& c) {
    // An MTA-STS policy in enforce mode set the level: "sts", as Postfix's tls= names the
    // policy that applied (the requirement itself is "verify").
    std::string level = plan.sts ? "sts" : dane::to_string(plan.tls);
    bool plaintext = !c.session || !c.session->tls_active();
    if (plan.tls == dane::TlsRequirement::may && plaintext) level += "/none";
    return level;
}

asio::awaitable<HostConnection> connect_host(const dane::HostPlan& plan,
                                             const dane::IpAddress& address, std::uint16_t port,
                                             asio::ssl::context& tls,
                                             const ConnectOptions& options) {
    HostConnection c;
    c.address = address.to_string();
    c.relay = smtp::peer_name(plan.host, c.address, port);
    auto state = std::make_shared<HookState>();
    state->plan = plan;
    state->relay = c.relay;
    state->sink = options.log;
    state->metrics = options.metrics;
    state->sessions = options.sessions;
    if (options.sessions) state->session_key = dane::session_key(plan, c.address, port);

    smtp::ClientOptions o;
    o.helo_name = options.helo_name;
    o.host_name = plan.host;
    o.tls = tls_mode(plan.tls);
    o.tls_context = &tls;
    o.timeouts = options.timeouts;
    o.deadline = options.deadline;
    o.reply_limits = options.reply_limits;
    o.hooks.prepare = [state](SSL* ssl) { return state->prepare(ssl); };
    // RFC 7672 §2.2: a peer that does not meet the plan is not used; the
    // session then closes without sending anything over the connection.
    o.hooks.verify = [state](SSL* ssl) { return state->verify(ssl); };

    auto ex = co_await asio::this_coro::executor;
    c.session = std::make_unique<smtp::ClientSession>(ex, std::move(o));
    asio::ip::tcp::endpoint peer(asio::ip::make_address(c.address), port);
    c.status = co_await c.session->open(peer);
    c.tls = state->outcome;
    // Postfix uncaches a session whose handshake failed: the next one starts afresh.
    if (state->offered && !state->outcome) options.sessions->forget(state->session_key);
    if (state->prepare_error)
        state->emit(c.relay + ": TLS set-up failed: " + *state->prepare_error);
    c.log = std::move(state->held);
    co_return c;
}

}  // namespace dr::relay
