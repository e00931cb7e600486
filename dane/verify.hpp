// TLS peer authentication for one host as its HostPlan demands, done by
// OpenSSL's DANE API (SSL_dane_enable, SSL_dane_tlsa_add, SSL_get0_dane_*).
// Entry points: enable_dane(SSL_CTX*) once, prepare() before the handshake,
// inspect() after it. inspect() reports a Failure when the peer does not
// meet the plan ("Server certificate not verified", 4.7.5).
#pragma once

#include <openssl/ssl.h>

#include <optional>
#include <string>

#include "dane/policy.hpp"

namespace dr::dane {

// Postfix's names for what was established (SPEC §6).
enum class TlsTrust { anonymous, untrusted, trusted, verified };
const char* to_string(TlsTrust t);  // "Anonymous", "Untrusted", "Trusted", "Verified"

struct TlsOutcome {
    TlsTrust trust = TlsTrust::anonymous;
    std::optional<Failure> failure;     // the plan's requirement was not met
    std::string protocol;               // "TLSv1.3"
    std::string summary;                // "TLSv1.3 with cipher … server-digest SHA256"
    std::optional<TlsaRecord> matched;  // the TLSA record that matched (DANE)
    int depth = -1;                     // chain depth of the match (0 = leaf)
    std::string peer_cert_sha256;       // hex, empty without a certificate
    std::string peer_spki_sha256;
    std::string verify_error;  // OpenSSL's text when verification failed
    bool resumed = false;      // an earlier session was resumed: no verification this time
};

// What a handshake established, kept with its session: a resumed session reports it again.
struct SessionVerdict {
    TlsTrust trust = TlsTrust::anonymous;
    std::optional<TlsaRecord> matched;
    int depth = -1;
};

// Turns on DANE support for every SSL made from this context (once).
// Returns false with OpenSSL's error queue set when that fails.
bool enable_dane(SSL_CTX* ctx);

// Sets SNI, DANE state and reference identifiers on a client SSL before
// its handshake. Returns an error text when OpenSSL refused the set-up.
std::optional<std::string> prepare(SSL* ssl, const HostPlan& plan);

// Reads the handshake's result and judges it against the plan.
TlsOutcome inspect(SSL* ssl, const HostPlan& plan);

// The same for a resumed session, which OpenSSL does not verify again (no chain, no DANE
// match): the verdict is the one the session was made under (`original`), which
// dane/session_cache.hpp keeps only for the same host, address, port and plan inputs (for
// DANE the same TLSA RRset). A session whose verification result is not OK fails as inspect()
// would.
TlsOutcome inspect_resumed(SSL* ssl, const HostPlan& plan, const SessionVerdict& original);

// "Verified TLS connection established to host[addr]:port: <summary>"
// `peer` is Postfix's "host[addr]:port" (smtp/peer_name.hpp).
std::string tls_established_line(const TlsOutcome& o, const std::string& peer);

// "host[addr]:port: Matched DANE EE certificate at depth 0: 3 1 1 <digest>", or ""
// ("" also for a resumed session: nothing was matched, as Postfix logs no match then)
std::string dane_match_line(const TlsOutcome& o, const std::string& peer);

}  // namespace dr::dane
