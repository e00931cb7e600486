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
    std::vector<std::string> held;                 // the lines, without a sink
    std::optional<std::string> prepare_error;
    std::optional<dane::TlsOutcome> outcome;

    void emit(std::string line) {
        if (sink)
            sink(line);
        else
            held.push_back(std::move(line));
    }
};
}  // namespace

std::string tls_feature(const dane::HostPlan& plan, const HostConnection& c) {
    std::string level = dane::to_string(plan.tls);
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

    smtp::ClientOptions o;
    o.helo_name = options.helo_name;
    o.host_name = plan.host;
    o.tls = tls_mode(plan.tls);
    o.tls_context = &tls;
    o.timeouts = options.timeouts;
    o.deadline = options.deadline;
    o.reply_limits = options.reply_limits;
    o.hooks.prepare = [state](SSL* ssl) {
        state->prepare_error = dane::prepare(ssl, state->plan);
        return !state->prepare_error;
    };
    // RFC 7672 §2.2: a peer that does not meet the plan is not used; the
    // session then closes without sending anything over the connection.
    o.hooks.verify = [state,
                      metrics = options.metrics](SSL* ssl) -> std::optional<smtp::DeliveryStatus> {
        state->outcome = dane::inspect(ssl, state->plan);
        // Postfix logs the TLS line when the handshake completes, before any delivery line.
        state->emit(dane::tls_established_line(*state->outcome, state->relay));
        if (metrics) metrics->tls_connection(dane::to_string(state->outcome->trust));
        if (auto m = dane::dane_match_line(*state->outcome, state->relay); !m.empty())
            state->emit(std::move(m));
        if (!state->outcome->failure) return std::nullopt;
        return smtp::DeliveryStatus::temp(state->outcome->failure->dsn,
                                          state->outcome->failure->reason);
    };

    auto ex = co_await asio::this_coro::executor;
    c.session = std::make_unique<smtp::ClientSession>(ex, std::move(o));
    asio::ip::tcp::endpoint peer(asio::ip::make_address(c.address), port);
    c.status = co_await c.session->open(peer);
    c.tls = state->outcome;
    if (state->prepare_error)
        state->emit(c.relay + ": TLS set-up failed: " + *state->prepare_error);
    c.log = std::move(state->held);
    co_return c;
}

}  // namespace dr::relay
