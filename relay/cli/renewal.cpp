#include "relay/cli/renewal.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <memory>

#include "dane/verify.hpp"

namespace dr::relay {

namespace {

template <class T, void (*F)(T*)>
struct Free {
    void operator()(T* p) const { F(p); }
};
using Ctx = std::unique_ptr<SSL_CTX, Free<SSL_CTX, SSL_CTX_free>>;
using Ssl = std::unique_ptr<SSL, Free<SSL, SSL_free>>;
using Cert = std::unique_ptr<X509, Free<X509, X509_free>>;
using StoreCtx = std::unique_ptr<X509_STORE_CTX, Free<X509_STORE_CTX, X509_STORE_CTX_free>>;

void free_stack(STACK_OF(X509) * s) {
    sk_X509_pop_free(s, X509_free);
}
using Stack = std::unique_ptr<STACK_OF(X509), Free<STACK_OF(X509), free_stack>>;

Cert decode(const dane::Der& der) {
    const unsigned char* p = der.data();
    return Cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
}

RenewalVerdict refused(std::string why) {
    ERR_clear_error();
    return RenewalVerdict{false, std::move(why), std::nullopt, -1};
}

// What the handshake would have matched, read back from the SSL's DANE state.
void matched(SSL* ssl, RenewalVerdict& v) {
    std::uint8_t u = 0, s = 0, m = 0;
    const unsigned char* data = nullptr;
    size_t len = 0;
    v.depth = SSL_get0_dane_tlsa(ssl, &u, &s, &m, &data, &len);
    if (v.depth >= 0 && data)
        v.matched = dane::TlsaRecord{u, s, m, std::vector<std::uint8_t>(data, data + len)};
}

}  // namespace

RenewalVerdict judge_renewal(const dane::HostPlan& plan, const std::vector<PeerCert>& chain,
                             std::int64_t now) {
    if (chain.empty()) return refused("no certificate");
    Ctx ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx || !dane::enable_dane(ctx.get())) return refused("OpenSSL: no DANE context");
    Ssl ssl(SSL_new(ctx.get()));
    if (!ssl) return refused("OpenSSL: no SSL object");
    if (auto e = dane::prepare(ssl.get(), plan)) return refused(*e);
    Cert leaf = decode(chain[0].der);
    Stack rest(sk_X509_new_null());
    if (!leaf || !rest) return refused("a certificate does not decode");
    for (std::size_t i = 1; i < chain.size(); ++i) {
        Cert c = decode(chain[i].der);
        if (!c || !sk_X509_push(rest.get(), c.get()))
            return refused("a certificate does not decode");
        c.release();
    }
    // As libssl verifies a server's chain (ssl_verify_internal): its store, the SSL's
    // parameters (host names), the "ssl_server" purpose and the SSL's DANE state.
    StoreCtx vctx(X509_STORE_CTX_new());
    if (!vctx ||
        !X509_STORE_CTX_init(vctx.get(), SSL_CTX_get_cert_store(ctx.get()), leaf.get(), rest.get()))
        return refused("OpenSSL: no verification context");
    X509_STORE_CTX_set_default(vctx.get(), "ssl_server");
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(vctx.get());
    X509_VERIFY_PARAM_set1(param, SSL_get0_param(ssl.get()));
    X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(now));
    X509_STORE_CTX_set0_dane(vctx.get(), SSL_get0_dane(ssl.get()));
    if (X509_verify_cert(vctx.get()) <= 0)
        return refused(X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx.get())));
    RenewalVerdict v;
    v.accepted = true;
    matched(ssl.get(), v);
    return v;
}

}  // namespace dr::relay
