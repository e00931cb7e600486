#include "relay/queue/connect.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/this_coro.hpp>

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
    std::optional<std::string> prepare_error;
    std::optional<dane::TlsOutcome> outcome;
};
}  // namespace

asio::awaitable<HostConnection> connect_host(const dane::HostPlan& plan,
                                             const dane::IpAddress& address, std::uint16_t port,
                                             asio::ssl::context& tls,
                                             const ConnectOptions& options) {
    HostConnection c;
    c.address = address.to_string();
    c.relay = smtp::peer_name(plan.host, c.address, port);
    auto state = std::make_shared<HookState>();
    state->plan = plan;

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
    o.hooks.verify = [state](SSL* ssl) -> std::optional<smtp::DeliveryStatus> {
        state->outcome = dane::inspect(ssl, state->plan);
        if (!state->outcome->failure) return std::nullopt;
        return smtp::DeliveryStatus::temp(state->outcome->failure->dsn,
                                          state->outcome->failure->reason);
    };

    auto ex = co_await asio::this_coro::executor;
    c.session = std::make_unique<smtp::ClientSession>(ex, std::move(o));
    asio::ip::tcp::endpoint peer(asio::ip::make_address(c.address), port);
    c.status = co_await c.session->open(peer);
    c.tls = state->outcome;
    if (c.tls) {
        c.log.push_back(dane::tls_established_line(*c.tls, c.relay));
        if (auto m = dane::dane_match_line(*c.tls, c.relay); !m.empty()) c.log.push_back(m);
    }
    if (state->prepare_error)
        c.log.push_back(c.relay + ": TLS set-up failed: " + *state->prepare_error);
    co_return c;
}

}  // namespace dr::relay
