// The session cache and its OpenSSL glue (see session_cache.hpp).
#include "dane/session_cache.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace dr::dane {

namespace {

using Clock = std::chrono::steady_clock;

struct SessionFree {
    void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;

bool record_less(const TlsaRecord& a, const TlsaRecord& b) {
    return std::tie(a.usage, a.selector, a.mtype, a.data) <
           std::tie(b.usage, b.selector, b.mtype, b.data);
}

}  // namespace

std::string tlsa_rrset_digest(const std::vector<TlsaRecord>& records) {
    std::vector<TlsaRecord> sorted = records;
    std::sort(sorted.begin(), sorted.end(), record_less);
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr);
    for (const auto& r : sorted) {
        const auto n = r.data.size();
        const unsigned char head[5] = {r.usage, r.selector, r.mtype,
                                       static_cast<unsigned char>(n >> 8),
                                       static_cast<unsigned char>(n & 0xff)};
        EVP_DigestUpdate(md.get(), head, sizeof head);
        EVP_DigestUpdate(md.get(), r.data.data(), n);
    }
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(md.get(), out, &len);
    return to_hex(out, len);
}

namespace {
// " name=<length>:<value>": length-prefixed, so that no name (DNS names may hold any byte)
// can pose as several fields or another field.
void field(std::string& k, const char* name, const std::string& value) {
    k += std::string(" ") + name + "=" + std::to_string(value.size()) + ":" + value;
}
}  // namespace

std::string session_key(const HostPlan& plan, const std::string& address, std::uint16_t port) {
    std::string k = to_string(plan.tls);
    field(k, "host", plan.host);
    field(k, "addr", address);
    field(k, "port", std::to_string(port));
    if (plan.tls != TlsRequirement::dane && plan.tls != TlsRequirement::verify) return k;
    // What verification was done against: the SNI, then every name a certificate may carry.
    field(k, "sni", plan.tlsa_base);
    for (const auto& n : plan.match_names) field(k, "name", n);
    if (plan.tls != TlsRequirement::dane) return k;
    field(k, "half", plan.half_dane ? "1" : "0");
    field(k, "tlsa", tlsa_rrset_digest(plan.tlsa));
    return k;
}

// ---- the store -------------------------------------------------------------------------

struct SessionCache::Store {
    struct Entry {
        SessionPtr session;
        SessionVerdict verdict;
        Clock::time_point stored;
        Clock::time_point expires;
    };

    Limits limits;
    std::map<std::string, Entry> entries;

    // Takes `s` (freed when it cannot be resumed or kept).
    void put(const std::string& key, SSL_SESSION* s, const SessionVerdict& verdict) {
        SessionPtr owned(s);
        if (!SSL_SESSION_is_resumable(s) || limits.max_entries == 0) return;
        const auto now = Clock::now();
        drop_expired(now);
        if (!entries.count(key) && entries.size() >= limits.max_entries) drop_oldest();
        entries[key] = Entry{std::move(owned), verdict, now, expiry(s, now)};
    }

    // The entry under `key`, or null; an expired or no longer resumable one is dropped.
    const Entry* get(const std::string& key) {
        auto it = entries.find(key);
        if (it == entries.end()) return nullptr;
        // OpenSSL marks a session not resumable when its connection broke off.
        if (Clock::now() >= it->second.expires ||
            !SSL_SESSION_is_resumable(it->second.session.get())) {
            entries.erase(it);
            return nullptr;
        }
        return &it->second;
    }

    // Our timeout, or sooner when the server said so (the TLS 1.3 ticket lifetime).
    Clock::time_point expiry(SSL_SESSION* s, Clock::time_point now) const {
        auto ours = std::chrono::seconds(limits.timeout);
        auto theirs = std::chrono::seconds(SSL_SESSION_get_timeout(s));
        return now + (theirs.count() > 0 ? std::min(ours, theirs) : ours);
    }

    void drop_expired(Clock::time_point now) {
        std::erase_if(entries, [now](const auto& e) { return now >= e.second.expires; });
    }

    void drop_oldest() {
        auto oldest = std::min_element(entries.begin(), entries.end(), [](auto& a, auto& b) {
            return a.second.stored < b.second.stored;
        });
        if (oldest != entries.end()) entries.erase(oldest);
    }
};

// ---- one SSL's tie to the store --------------------------------------------------------

namespace {

enum class Decision { undecided, keep, drop };

// Lives in the SSL's ex_data; freed with the SSL.
struct Tie {
    std::weak_ptr<SessionCache::Store> store;
    std::string key;
    std::optional<SessionVerdict> offered;  // the cached session's verdict, when one was set
    Decision decision = Decision::undecided;
    SessionVerdict verdict;  // of this connection, once kept
    SessionPtr held;         // the latest session that arrived before the decision
};

void free_tie(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<Tie*>(ptr);
}

int tie_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_tie);
    return index;
}

Tie* tie_of(SSL* ssl) {
    return ssl ? static_cast<Tie*>(SSL_get_ex_data(ssl, tie_index())) : nullptr;
}

// OpenSSL's new-session callback: 1 when we took the reference to `s`.
int on_new_session(SSL* ssl, SSL_SESSION* s) {
    Tie* t = tie_of(ssl);
    if (!t || t->decision == Decision::drop) return 0;
    if (t->decision == Decision::undecided) {
        t->held.reset(s);  // TLS 1.2: during the handshake, before it was judged
        return 1;
    }
    auto store = t->store.lock();
    if (!store) return 0;
    store->put(t->key, s, t->verdict);
    return 1;
}

}  // namespace

SessionCache::SessionCache(Limits limits) : store_(std::make_shared<Store>()) {
    store_->limits = limits;
}

SessionCache::~SessionCache() = default;

void SessionCache::attach(SSL_CTX* ctx) {
    tie_index();
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
}

bool SessionCache::offer(SSL* ssl, const std::string& key) {
    auto tie = std::make_unique<Tie>();
    tie->store = store_;
    tie->key = key;
    const auto* e = store_->get(key);
    // SSL_set_session takes its own reference.
    if (e && SSL_set_session(ssl, e->session.get()) == 1) tie->offered = e->verdict;
    const bool offered = tie->offered.has_value();
    if (SSL_set_ex_data(ssl, tie_index(), tie.get()) == 1) tie.release();
    return offered;
}

std::optional<SessionVerdict> SessionCache::resumed(SSL* ssl) const {
    Tie* t = tie_of(ssl);
    if (!t || !t->offered || !SSL_session_reused(ssl)) return std::nullopt;
    return t->offered;
}

void SessionCache::settle(SSL* ssl, const TlsOutcome& outcome) {
    Tie* t = tie_of(ssl);
    if (!t) return;
    if (outcome.failure) {
        // SPEC §5.6: a session whose handshake did not meet the plan is never resumed.
        t->decision = Decision::drop;
        t->held.reset();
        forget(t->key);
        return;
    }
    t->decision = Decision::keep;
    t->verdict = SessionVerdict{outcome.trust, outcome.matched, outcome.depth};
    if (t->held) store_->put(t->key, t->held.release(), t->verdict);
}

void SessionCache::forget(const std::string& key) {
    store_->entries.erase(key);
}

std::size_t SessionCache::size() const {
    return store_->entries.size();
}

}  // namespace dr::dane
