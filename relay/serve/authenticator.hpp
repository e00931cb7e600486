// AUTH for the inbound sessions (SPEC §3): reads the auth_users file and checks logins on a
// worker thread of its own (crypt(3) takes milliseconds by design and must not stall an
// event loop), logs failures as Postfix's smtpd does ("warning: host[addr]: SASL LOGIN
// authentication failed: authentication failure") and delays each failure's reply by the
// client address's recent failures (smtp::AuthThrottle), on a timer. Entry points:
// Authenticator::load (any loop), check (the session hook, on the inbound loop only),
// shutdown (after the inbound loop has stopped).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <string>

#include "relay/log/log.hpp"
#include "smtp/auth_throttle.hpp"
#include "smtp/passwords.hpp"
#include "smtp/server_session.hpp"

namespace dr::relay {

struct LoadedUsers {
    std::shared_ptr<const smtp::Passwords> table;  // null when error is set
    std::string error;                             // "file:line: reason" lines
};

class Authenticator {
  public:
    explicit Authenticator(Logger& log) : log_(log) {}
    ~Authenticator() { shutdown(); }
    // Reads and checks the users file on the worker.
    boost::asio::awaitable<LoadedUsers> load(std::string path);
    // One AUTH attempt against `table`: true when it matches. A failure is logged and answered
    // only after the client address's delay.
    boost::asio::awaitable<bool> check(std::shared_ptr<const smtp::Passwords> table,
                                       const smtp::ClientInfo& client,
                                       const smtp::AuthAttempt& attempt);
    // Stops the worker; call once no loop awaits it any more.
    void shutdown();

  private:
    Logger& log_;
    boost::asio::thread_pool worker_{1};
    smtp::AuthThrottle throttle_;  // inbound loop only
};

}  // namespace dr::relay
