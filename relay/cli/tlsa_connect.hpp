// `dane-relay tlsa --connect HOST`: the certificate chain a live SMTP server presents,
// fetched over STARTTLS (banner, EHLO, STARTTLS, handshake, QUIT; nothing is verified:
// the chain is what the record is made from). A name is resolved by the project's validating
// resolver (libunbound, the [dns] settings, as `check` does), which says whether the address
// answers were DNSSEC-secure; an IP literal is not looked up. Entry point: fetch_chain().
// Failures are values: a resolver that cannot validate, unresolvable or bogus host, refused or
// timed-out connection, no STARTTLS, a failed handshake, a server with no certificate.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "conf/config.hpp"

namespace dr::relay {

struct ChainRequest {
    std::string host;  // a name (resolved through `dns`) or an IP address
    std::uint16_t port = 25;
    std::string sni;  // "" = none
    std::string helo_name = "localhost";
    std::chrono::milliseconds timeout{30'000};  // the whole exchange
    conf::DnsConfig dns;                        // the resolver's settings, for a name
};

struct FetchedChain {
    std::string pem;           // the chain as sent, leaf first, PEM certificates
    std::string peer;          // "host[address]:port" of the server that sent it
    std::string error;         // not empty: no chain, and why
    bool setup_error = false;  // the error is the resolver's set-up, not the server
    // The DNSSEC status of the address answers ("secure", "insecure"); "" for an IP literal.
    std::string address_security;
};

// Runs its own event loop; returns when the server answered or the timeout passed.
FetchedChain fetch_chain(const ChainRequest& req);

}  // namespace dr::relay
