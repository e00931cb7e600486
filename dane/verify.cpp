#include "dane/verify.hpp"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <memory>

namespace dr::dane {

const char* to_string(TlsTrust t) {
    switch (t) {
        case TlsTrust::anonymous:
            return "Anonymous";
        case TlsTrust::untrusted:
            return "Untrusted";
        case TlsTrust::trusted:
            return "Trusted";
        case TlsTrust::verified:
            return "Verified";
    }
    return "?";
}

bool enable_dane(SSL_CTX* ctx) {
    return SSL_CTX_dane_enable(ctx) > 0;
}

namespace {
// Postfix's "medium" grade with the anonymous suites moved to the end (TLS 1.2 and below;
// TLS 1.3 suites are set apart and unchanged).
constexpr const char* kOpportunisticCiphers = "HIGH:MEDIUM:+aNULL:@SECLEVEL=0";
}  // namespace

std::optional<std::string> prepare(SSL* ssl, const HostPlan& plan) {
    // Verification failures must not abort the handshake: like Postfix we
    // finish it and judge the result, so the log says why (and QUIT is clean).
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    if (plan.tls == TlsRequirement::dane) {
        // RFC 7672 §8.1: SNI is the TLSA base domain.
        if (!SSL_set_tlsext_host_name(ssl, plan.tlsa_base.c_str())) return "cannot set SNI";
        if (SSL_dane_enable(ssl, plan.tlsa_base.c_str()) <= 0) return "SSL_dane_enable failed";
        // RFC 7672 §3.1.1: DANE-EE(3) binds the key alone, no name checks.
        SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        for (std::size_t i = 1; i < plan.match_names.size(); ++i)
            if (!SSL_add1_host(ssl, plan.match_names[i].c_str())) return "cannot add a host name";
        int added = 0;
        for (const auto& r : plan.tlsa)
            if (SSL_dane_tlsa_add(ssl, r.usage, r.selector, r.mtype, r.data.data(), r.data.size()) >
                0)
                ++added;
        // Every record was vetted by tlsa_usability(); none left means a bug.
        if (added == 0) return "OpenSSL accepted none of the TLSA records";
    } else if (plan.tls == TlsRequirement::may) {
        // SPEC §5.4: opportunistic TLS takes what Postfix's "may" takes, anonymous (aNULL)
        // suites included (last choice): encrypted without a certificate beats plaintext.
        // OpenSSL refuses aNULL above security level 0. Never at the dane/verify levels.
        if (!SSL_set_cipher_list(ssl, kOpportunisticCiphers)) return "cannot set the cipher list";
    } else if (plan.tls == TlsRequirement::verify) {
        if (!SSL_set_tlsext_host_name(ssl, plan.tlsa_base.c_str())) return "cannot set SNI";
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        for (std::size_t i = 0; i < plan.match_names.size(); ++i) {
            int ok = i == 0 ? SSL_set1_host(ssl, plan.match_names[i].c_str())
                            : SSL_add1_host(ssl, plan.match_names[i].c_str());
            if (!ok) return "cannot set a host name";
        }
    }
    return std::nullopt;
}

namespace {

void digests(X509* cert, TlsOutcome& o) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (X509_digest(cert, EVP_sha256(), md, &n)) o.peer_cert_sha256 = to_hex(md, n);
    if (X509_pubkey_digest(cert, EVP_sha256(), md, &n)) o.peer_spki_sha256 = to_hex(md, n);
}

// The curve as Postfix names it: the NIST name ("P-256") where there is one.
std::string curve_name(EVP_PKEY* key) {
    char group[80] = {};
    size_t len = 0;
    EVP_PKEY_get_group_name(key, group, sizeof group, &len);
    int nid = OBJ_sn2nid(group);
    const char* nist = nid != NID_undef ? EC_curve_nid2nist(nid) : nullptr;
    return nist ? nist : group;
}

std::string key_name(EVP_PKEY* key) {
    switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_X25519:
            return "X25519";
        case EVP_PKEY_X448:
            return "X448";
        case EVP_PKEY_DH:
            return "DHE (" + std::to_string(EVP_PKEY_get_bits(key)) + " bits)";
        case EVP_PKEY_EC:
            return "ECDHE (" + curve_name(key) + ")";
        default:
            return OBJ_nid2sn(EVP_PKEY_get_base_id(key));
    }
}

std::string signature_name(SSL* ssl, X509* cert) {
    EVP_PKEY* key = X509_get0_pubkey(cert);
    if (!key) return {};
    int sig = NID_undef;
    SSL_get_peer_signature_type_nid(ssl, &sig);
    switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_RSA:
            return std::string(sig == EVP_PKEY_RSA_PSS ? "RSA-PSS" : "RSA") + " (" +
                   std::to_string(EVP_PKEY_get_bits(key)) + " bits)";
        case EVP_PKEY_EC:
            return "ECDSA (" + curve_name(key) + ")";
        case EVP_PKEY_ED25519:
            return "ED25519";
        case EVP_PKEY_ED448:
            return "ED448";
        default:
            return OBJ_nid2sn(EVP_PKEY_get_base_id(key));
    }
}

// Postfix's tls_client.c wording: "<version> with cipher <name> (<bits>/<alg bits> bits)"
// then the key-exchange, server-signature and server-digest clauses.
std::string summary(SSL* ssl, X509* cert) {
    const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
    int alg_bits = 0;
    int bits = SSL_CIPHER_get_bits(cipher, &alg_bits);
    std::string s = std::string(SSL_get_version(ssl)) + " with cipher " +
                    SSL_CIPHER_get_name(cipher) + " (" + std::to_string(bits) + "/" +
                    std::to_string(alg_bits) + " bits)";
    EVP_PKEY* tmp = nullptr;
    if (SSL_get_peer_tmp_key(ssl, &tmp) && tmp) {
        s += " key-exchange " + key_name(tmp);
        EVP_PKEY_free(tmp);
    }
    if (cert) {
        std::string sig = signature_name(ssl, cert);
        if (!sig.empty()) s += " server-signature " + sig;
        int md = NID_undef;
        if (SSL_get_peer_signature_nid(ssl, &md) && md != NID_undef)
            s += std::string(" server-digest ") + OBJ_nid2sn(md);
    }
    return s;
}

}  // namespace

namespace {

// What the handshake shows, judged against nothing yet; `verify` is OpenSSL's result.
TlsOutcome observe(SSL* ssl, long& verify, bool& has_cert) {
    TlsOutcome o;
    o.protocol = SSL_get_version(ssl);
    std::unique_ptr<X509, decltype(&X509_free)> cert(SSL_get1_peer_certificate(ssl), X509_free);
    o.summary = summary(ssl, cert.get());
    has_cert = cert != nullptr;
    o.trust = has_cert ? TlsTrust::untrusted : TlsTrust::anonymous;
    if (has_cert) digests(cert.get(), o);
    verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) o.verify_error = X509_verify_cert_error_string(verify);
    return o;
}

void judge_dane(SSL* ssl, const HostPlan& plan, bool ok, TlsOutcome& o) {
    uint8_t usage = 0, selector = 0, mtype = 0;
    const unsigned char* data = nullptr;
    size_t dlen = 0;
    int depth = SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, &data, &dlen);
    if (ok && depth >= 0) {
        o.depth = depth;
        o.matched = TlsaRecord{usage, selector, mtype, {data, data + dlen}};
        // A match reached through an insecure MX RRset is "Trusted" (half-dane).
        o.trust = plan.half_dane ? TlsTrust::trusted : TlsTrust::verified;
    } else {
        o.failure = Failure{false, "4.7.5", "Server certificate not verified"};
    }
}

}  // namespace

TlsOutcome inspect(SSL* ssl, const HostPlan& plan) {
    long verify = X509_V_OK;
    bool has_cert = false;
    TlsOutcome o = observe(ssl, verify, has_cert);
    const bool ok = has_cert && verify == X509_V_OK;
    if (plan.tls == TlsRequirement::dane) {
        judge_dane(ssl, plan, ok, o);
    } else if (plan.tls == TlsRequirement::verify) {
        if (ok)
            o.trust = TlsTrust::verified;
        else
            o.failure = Failure{false, "4.7.5", "Server certificate not trusted"};
    }
    return o;
}

TlsOutcome inspect_resumed(SSL* ssl, const HostPlan& plan, const SessionVerdict& original) {
    long verify = X509_V_OK;
    bool has_cert = false;
    TlsOutcome o = observe(ssl, verify, has_cert);
    o.resumed = true;
    const bool must_verify = plan.tls == TlsRequirement::dane || plan.tls == TlsRequirement::verify;
    // The session keeps its peer certificate and OpenSSL's verification result.
    if (must_verify && !(has_cert && verify == X509_V_OK)) {
        o.failure = Failure{false, "4.7.5",
                            plan.tls == TlsRequirement::dane ? "Server certificate not verified"
                                                             : "Server certificate not trusted"};
        return o;
    }
    o.trust = original.trust;
    o.matched = original.matched;
    o.depth = original.depth;
    return o;
}

std::string tls_established_line(const TlsOutcome& o, const std::string& peer) {
    return std::string(to_string(o.trust)) + " TLS connection established to " + peer + ": " +
           o.summary;
}

std::string dane_match_line(const TlsOutcome& o, const std::string& peer) {
    if (!o.matched || o.resumed) return {};
    return peer + ": Matched DANE " + (o.matched->usage == 3 ? "EE" : "TA") +
           " certificate at depth " + std::to_string(o.depth) + ": " + o.matched->to_string();
}

}  // namespace dr::dane
