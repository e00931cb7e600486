// The AUTH checks of the inbound sessions (see authenticator.hpp).
#include "relay/serve/authenticator.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "conf/users.hpp"
#include "relay/serve/inbound_sink.hpp"

namespace dr::relay {

namespace asio = boost::asio;

// The jobs are named locals, not temporaries inside the co_await: GCC 12 destroys such
// temporaries twice (a double free of the captures, seen here as heap corruption).
asio::awaitable<LoadedUsers> Authenticator::load(std::string path) {
    auto job = [path]() -> asio::awaitable<LoadedUsers> {
        auto file = conf::load_users(path);
        LoadedUsers out;
        for (const auto& e : file.errors) out.error += (out.error.empty() ? "" : "\n") + e;
        if (file.ok()) out.table = std::make_shared<smtp::Passwords>(std::move(file.users));
        co_return out;
    };
    LoadedUsers out = co_await asio::co_spawn(worker_, job, asio::use_awaitable);
    co_return out;
}

asio::awaitable<bool> Authenticator::check(std::shared_ptr<const smtp::Passwords> table,
                                           const smtp::ClientInfo& client,
                                           const smtp::AuthAttempt& attempt) {
    // Copies: the worker must not read the session's strings.
    auto job = [table, user = attempt.credentials.user,
                password = attempt.credentials.password]() -> asio::awaitable<bool> {
        co_return table->check(user, password);
    };
    bool ok = co_await asio::co_spawn(worker_, job, asio::use_awaitable);
    if (ok) co_return true;
    // Postfix (smtpd_sasl_glue.c): "%s: SASL %s authentication failed: %s", the reason being
    // Cyrus SASL's text for a wrong password.
    log_.warning(Role::smtpd, client_name(client.peer) + ": SASL " + attempt.mechanism +
                                  " authentication failed: authentication failure");
    auto delay =
        throttle_.failed(client.peer.address().to_string(), smtp::AuthThrottle::Clock::now());
    if (delay > asio::steady_timer::duration::zero()) {
        asio::steady_timer timer(co_await asio::this_coro::executor, delay);
        boost::system::error_code ignored;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    co_return false;
}

void Authenticator::shutdown() {
    worker_.stop();
    worker_.join();
}

}  // namespace dr::relay
