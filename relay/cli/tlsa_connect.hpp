// `dane-relay tlsa --connect HOST`: the certificate chain a live SMTP server presents,
// fetched over STARTTLS (banner, EHLO, STARTTLS, handshake, QUIT; nothing is verified:
// the chain is what the record is made from). Entry point: fetch_chain(). Failures are
// values: unresolvable host, refused or timed-out connection, no STARTTLS, a failed
// handshake, a server with no certificate (anonymous TLS).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace dr::relay {

struct ChainRequest {
    std::string host;  // a name (resolved by the system) or an IP address
    std::uint16_t port = 25;
    std::string sni;  // "" = none
    std::string helo_name = "localhost";
    std::chrono::milliseconds timeout{30'000};  // the whole exchange
};

struct FetchedChain {
    std::string pem;    // the chain as sent, leaf first, PEM certificates
    std::string peer;   // "host[address]:port" of the server that sent it
    std::string error;  // not empty: no chain, and why
};

// Runs its own event loop; returns when the server answered or the timeout passed.
FetchedChain fetch_chain(const ChainRequest& req);

}  // namespace dr::relay
