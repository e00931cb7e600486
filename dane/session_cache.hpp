// Client-side TLS session resumption (SPEC §5.6): an in-memory cache of SSL_SESSIONs keyed by
// session_key() (MX host, address, port, TLS level and every verification input; for DANE a
// digest of the sorted TLSA RRset), so that a session is resumed only into a connection that
// would have been verified by the same inputs. Only sessions of handshakes that met their plan
// are kept, with the verdict they were made under: OpenSSL does not re-run chain or DANE
// verification on resumption, so the verdict of the original handshake is what a resumed one
// reports. Entry points: session_key(), SessionCache (attach once per SSL_CTX; offer() before
// a handshake, resumed() and settle() after it, forget() when it failed). One event loop:
// not thread-safe. Failures never fail a connection: no session means a full handshake.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dane/policy.hpp"
#include "dane/verify.hpp"

namespace dr::dane {

// The cache key: the TLS level, the MX host name, address and port, and for the levels that
// verify the SNI and the reference identifiers, and for DANE the half-dane flag and a SHA-256
// over the TLSA RRset in canonical order (sorted, duplicates dropped), so that the order of
// the answer does not matter but any change to the set does. Fields are length-prefixed.
std::string session_key(const HostPlan& plan, const std::string& address, std::uint16_t port);

// SHA-256 (hex) over the sorted, de-duplicated records: usage, selector, mtype, length, data.
std::string tlsa_rrset_digest(const std::vector<TlsaRecord>& records);

// Postfix's smtp_tls_session_cache_timeout is 3600 s; entries beyond max_entries push out
// the oldest.
struct SessionCacheLimits {
    std::size_t max_entries = 1000;
    std::chrono::seconds timeout{3600};
};

class SessionCache {
  public:
    using Limits = SessionCacheLimits;

    explicit SessionCache(Limits limits = {});
    ~SessionCache();
    SessionCache(const SessionCache&) = delete;
    SessionCache& operator=(const SessionCache&) = delete;

    // Client caching without OpenSSL's internal store, and the new-session callback that
    // brings sessions (TLS 1.3 tickets arrive after the handshake) to the SSL's cache.
    // Idempotent; every SSL of `ctx` without offer() is left alone.
    static void attach(SSL_CTX* ctx);

    // Before the handshake: sets the session cached under `key` (if fresh) on `ssl`, and
    // ties `ssl` to this cache so that its new sessions are kept under `key` once settled.
    // True when a session was offered.
    bool offer(SSL* ssl, const std::string& key);
    // After the handshake: the verdict of the offered session when the server resumed it.
    std::optional<SessionVerdict> resumed(SSL* ssl) const;
    // After the handshake was judged: a plan met keeps the SSL's sessions (those already
    // received and later tickets) under its key; a plan not met keeps none and drops the key.
    void settle(SSL* ssl, const TlsOutcome& outcome);
    // Drops what is cached under `key` (a handshake with an offered session failed).
    void forget(const std::string& key);

    std::size_t size() const;

    struct Store;

  private:
    std::shared_ptr<Store> store_;  // shared with each tied SSL (weakly), which may outlive us
};

}  // namespace dr::dane
