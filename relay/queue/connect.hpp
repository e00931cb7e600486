// Opens an SMTP connection to one address of a planned host with the TLS its
// HostPlan demands (SPEC §5.4-5.5): STARTTLS required or opportunistic, the
// DANE/PKIX set-up before the handshake and the verdict after it, and the
// lines Postfix logs about it. Entry point: connect_host(). Failures are
// values: HostConnection::status says why the host cannot be used.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dane/policy.hpp"
#include "dane/verify.hpp"
#include "smtp/client_session.hpp"

namespace dr::relay {

namespace asio = boost::asio;

struct ConnectOptions {
    std::string helo_name = "localhost";
    smtp::StepTimeouts timeouts;
};

struct HostConnection {
    std::unique_ptr<smtp::ClientSession> session;  // ready for send() when status.ok()
    smtp::DeliveryStatus status;
    std::optional<dane::TlsOutcome> tls;  // set when a handshake completed
    std::vector<std::string> log;         // "Verified TLS connection established to …", …
    std::string relay;                    // "host[addr]:port", as delivery lines name it
    std::string address;
};

smtp::TlsMode tls_mode(dane::TlsRequirement r);

asio::awaitable<HostConnection> connect_host(const dane::HostPlan& plan,
                                             const dane::IpAddress& address, std::uint16_t port,
                                             asio::ssl::context& tls,
                                             const ConnectOptions& options);

}  // namespace dr::relay
