// restrict_key_type() (relay/cli/check.hpp) against a real OpenSSL server holding an ECDSA and
// an RSA certificate, at TLS 1.3 and at TLS 1.2: the handshake runs in memory (a BIO pair, no
// sockets) and the test reads which certificate the client got. Unrestricted, the client gets
// the server's preferred one; restricted, the one of the asked key type.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <gtest/gtest.h>
#include <memory>

#include "relay/cli/check.hpp"

namespace dr::relay {
namespace {

template <class T, void (*F)(T*)>
struct Free {
    void operator()(T* p) const { F(p); }
};
using Ctx = std::unique_ptr<SSL_CTX, Free<SSL_CTX, SSL_CTX_free>>;
using Ssl = std::unique_ptr<SSL, Free<SSL, SSL_free>>;
using Key = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Free<X509, X509_free>>;

// A self-signed certificate for `key`, valid for a day.
Cert self_signed(EVP_PKEY* key) {
    Cert x(X509_new());
    X509_set_version(x.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 86400);
    X509_NAME* name = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("mx.x.test"), -1, -1, 0);
    X509_set_issuer_name(x.get(), name);
    X509_set_pubkey(x.get(), key);
    X509_sign(x.get(), key, EVP_sha256());
    return x;
}

// A server context with both certificates, limited to `version`.
Ctx server(int version) {
    Ctx ctx(SSL_CTX_new(TLS_server_method()));
    SSL_CTX_set_min_proto_version(ctx.get(), version);
    SSL_CTX_set_max_proto_version(ctx.get(), version);
    Key keys[] = {Key(EVP_EC_gen("P-256")), Key(EVP_RSA_gen(2048))};
    for (const auto& key : keys) {
        Cert x = self_signed(key.get());
        EXPECT_EQ(SSL_CTX_use_certificate(ctx.get(), x.get()), 1);
        EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), key.get()), 1);
    }
    return ctx;
}

// The key type of the certificate the client got, "" when the handshake failed.
std::string handshake(SSL_CTX* server_ctx, KeyType k) {
    Ctx client_ctx(SSL_CTX_new(TLS_client_method()));
    EXPECT_TRUE(restrict_key_type(client_ctx.get(), k));
    Ssl c(SSL_new(client_ctx.get())), s(SSL_new(server_ctx));
    BIO *cb = nullptr, *sb = nullptr;
    BIO_new_bio_pair(&cb, 0, &sb, 0);
    SSL_set_bio(c.get(), cb, cb);
    SSL_set_bio(s.get(), sb, sb);
    SSL_set_connect_state(c.get());
    SSL_set_accept_state(s.get());
    for (int i = 0; i < 20 && !(SSL_is_init_finished(c.get()) && SSL_is_init_finished(s.get()));
         ++i) {
        SSL_do_handshake(c.get());
        SSL_do_handshake(s.get());
    }
    if (!SSL_is_init_finished(c.get())) return "";
    Cert peer(SSL_get1_peer_certificate(c.get()));
    int id = EVP_PKEY_get_base_id(X509_get0_pubkey(peer.get()));
    return id == EVP_PKEY_EC ? "ECDSA" : id == EVP_PKEY_RSA ? "RSA" : "other";
}

TEST(KeyType, Tls13SignatureAlgorithmsPickTheCertificate) {
    Ctx s = server(TLS1_3_VERSION);
    EXPECT_EQ(handshake(s.get(), KeyType::rsa), "RSA");
    EXPECT_EQ(handshake(s.get(), KeyType::ecdsa), "ECDSA");
    EXPECT_NE(handshake(s.get(), KeyType::any), "");
}

TEST(KeyType, Tls12CipherSuitesAndSignatureAlgorithmsPickTheCertificate) {
    Ctx s = server(TLS1_2_VERSION);
    EXPECT_EQ(handshake(s.get(), KeyType::rsa), "RSA");
    EXPECT_EQ(handshake(s.get(), KeyType::ecdsa), "ECDSA");
}

TEST(KeyType, AServerWithoutThatKeyTypeFailsTheHandshake) {
    for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        Ctx ctx(SSL_CTX_new(TLS_server_method()));
        SSL_CTX_set_min_proto_version(ctx.get(), version);
        SSL_CTX_set_max_proto_version(ctx.get(), version);
        Key key(EVP_EC_gen("P-256"));
        Cert x = self_signed(key.get());
        SSL_CTX_use_certificate(ctx.get(), x.get());
        SSL_CTX_use_PrivateKey(ctx.get(), key.get());
        EXPECT_EQ(handshake(ctx.get(), KeyType::rsa), "") << version;
        EXPECT_EQ(handshake(ctx.get(), KeyType::ecdsa), "ECDSA") << version;
    }
}

}  // namespace
}  // namespace dr::relay
