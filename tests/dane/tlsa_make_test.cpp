// The TLSA record to publish (dane/tlsa_make.hpp): keys and certificates made at test time
// (RSA 2048, ECDSA P-256), every usage × selector × matching type checked against the openssl
// command line (a computation independent of ours), and the malformed inputs.
#include "dane/tlsa_make.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

namespace dr::dane {
namespace {

namespace fs = std::filesystem;

struct KeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
    void operator()(X509* x) const { X509_free(x); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

Key new_key(bool rsa) {
    return Key(rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256"));
}

void add_ext(X509* x, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    ASSERT_NE(e, nullptr);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

// A certificate for `key` named `cn`, signed by issuer_key (itself when null).
Cert new_cert(EVP_PKEY* key, const char* cn, const char* san, X509* issuer = nullptr,
              EVP_PKEY* issuer_key = nullptr) {
    Cert x(X509_new());
    X509_set_version(x.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 86400);
    X509_set_pubkey(x.get(), key);
    X509_NAME* name = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                               -1, -1, 0);
    X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name);
    if (san) add_ext(x.get(), issuer ? issuer : x.get(), NID_subject_alt_name, san);
    X509_sign(x.get(), issuer_key ? issuer_key : key, EVP_sha256());
    return x;
}

std::string bio_text(BIO* b) {
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(b);
    return out;
}

std::string cert_pem(X509* x) {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    return bio_text(b);
}

std::string pkcs8_pem(EVP_PKEY* k) {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
    return bio_text(b);
}

std::string traditional_pem(EVP_PKEY* k) {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey_traditional(b, k, nullptr, nullptr, 0, nullptr, nullptr);
    return bio_text(b);
}

std::string pubkey_pem(EVP_PKEY* k) {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, k);
    return bio_text(b);
}

std::string hex(const Der& d) {
    TlsaRecord r{0, 0, 0, d};
    std::string s = r.to_string();
    return s.substr(s.rfind(' ') + 1);
}

// The openssl command line's answer for a PEM certificate file: the selector's bytes piped
// through the matching type, as lower-case hex.
class OpensslCli {
  public:
    OpensslCli() {
        char tmpl[] = "/tmp/tlsa_make_test.XXXXXX";
        dir_ = mkdtemp(tmpl);
    }
    ~OpensslCli() { fs::remove_all(dir_); }

    std::string expected(const std::string& cert_pem, int selector, int mtype) {
        auto& hit = seen_[cert_pem + char('0' + selector) + char('0' + mtype)];
        if (hit.empty()) hit = compute(cert_pem, selector, mtype);
        return hit;
    }

  private:
    std::string compute(const std::string& cert_pem, int selector, int mtype) {
        std::string f = dir_ + "/cert.pem";
        std::ofstream(f) << cert_pem;
        std::string bytes =
            selector == 0
                ? "openssl x509 -in " + f + " -outform DER"
                : "openssl x509 -in " + f + " -noout -pubkey | openssl pkey -pubin -outform DER";
        std::string digest = mtype == 0   ? "od -An -v -tx1 | tr -d ' \\n'"
                             : mtype == 1 ? "openssl dgst -sha256 -r | cut -d' ' -f1"
                                          : "openssl dgst -sha512 -r | cut -d' ' -f1";
        return run(bytes + " | " + digest);
    }

  private:
    static std::string run(const std::string& cmd) {
        FILE* p = popen(cmd.c_str(), "r");
        std::string out;
        char buf[4096];
        std::size_t n;
        while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        EXPECT_TRUE(p && pclose(p) == 0) << cmd;
        while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
        return out;
    }
    std::string dir_;
    std::map<std::string, std::string> seen_;
};

std::string data_of(const std::string& pem, TlsaParams p) {
    TlsaMade m = make_tlsa(read_pem(pem), p);
    EXPECT_EQ(m.error, "");
    EXPECT_EQ(m.record.usage, p.usage);
    EXPECT_EQ(m.record.selector, p.selector);
    EXPECT_EQ(m.record.mtype, p.mtype);
    return hex(m.record.data);
}

TlsaParams params(int u, int s, int m, std::optional<unsigned> ca = std::nullopt) {
    return {static_cast<std::uint8_t>(u), static_cast<std::uint8_t>(s),
            static_cast<std::uint8_t>(m), ca};
}

std::string error_of(const std::string& pem, TlsaParams p = {}) {
    return make_tlsa(read_pem(pem), p).error;
}

class TlsaMakeByKey : public testing::TestWithParam<bool> {};

TEST_P(TlsaMakeByKey, EveryEndEntityCombinationMatchesTheOpensslCommandLine) {
    Key key = new_key(GetParam());
    std::string pem = cert_pem(new_cert(key.get(), "mx", "DNS:mx.example.org").get());
    OpensslCli cli;
    for (int usage : {1, 3})
        for (int s : {0, 1})
            for (int m : {0, 1, 2})
                EXPECT_EQ(data_of(pem, params(usage, s, m)), cli.expected(pem, s, m))
                    << usage << " " << s << " " << m;
}

TEST_P(TlsaMakeByKey, CaUsagesPublishTheIssuerOrTheChosenCertificate) {
    Key root_key = new_key(GetParam()), ca_key = new_key(GetParam()), key = new_key(true);
    Cert root = new_cert(root_key.get(), "root", nullptr);
    Cert ca = new_cert(ca_key.get(), "ca", nullptr, root.get(), root_key.get());
    Cert leaf = new_cert(key.get(), "mx", "DNS:mx.example.org", ca.get(), ca_key.get());
    std::string chain = cert_pem(leaf.get()) + cert_pem(ca.get()) + cert_pem(root.get());
    OpensslCli cli;
    for (int usage : {0, 2})
        for (int s : {0, 1})
            for (int m : {0, 1, 2}) {
                EXPECT_EQ(data_of(chain, params(usage, s, m)),
                          cli.expected(cert_pem(ca.get()), s, m));
                EXPECT_EQ(data_of(chain, params(usage, s, m, 2)),
                          cli.expected(cert_pem(root.get()), s, m));
                EXPECT_EQ(data_of(chain, params(usage, s, m, 0)),
                          cli.expected(cert_pem(leaf.get()), s, m));
            }
    EXPECT_EQ(data_of(chain, params(3, 1, 1)), cli.expected(cert_pem(leaf.get()), 1, 1))
        << "usage 3 takes the leaf of a chain";
    EXPECT_EQ(error_of(chain, params(2, 1, 1, 3)),
              "usage 2 publishes certificate 4 of the chain, and it holds 3");
}

TEST_P(TlsaMakeByKey, KeysGiveTheSpkiRecordOfTheirCertificate) {
    Key key = new_key(GetParam());
    std::string pem = cert_pem(new_cert(key.get(), "mx", "DNS:mx.example.org").get());
    for (int m : {0, 1, 2}) {
        std::string want = data_of(pem, params(3, 1, m));
        EXPECT_EQ(data_of(pkcs8_pem(key.get()), params(3, 1, m)), want) << "PRIVATE KEY";
        EXPECT_EQ(data_of(traditional_pem(key.get()), params(3, 1, m)), want)
            << "RSA/EC PRIVATE KEY";
        EXPECT_EQ(data_of(pubkey_pem(key.get()), params(3, 1, m)), want) << "PUBLIC KEY";
    }
    EXPECT_EQ(error_of(pkcs8_pem(key.get()), params(3, 0, 1)),
              "selector 0 needs a certificate, not a key");
    EXPECT_EQ(error_of(pubkey_pem(key.get()), params(2, 1, 1, 1)),
              "--ca needs a certificate chain, not a key");
}

INSTANTIATE_TEST_SUITE_P(RsaAndEcdsa, TlsaMakeByKey, testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Rsa2048" : "EcdsaP256"; });

TEST(TlsaMake, CertificatesWinOverAKeyInTheSameFile) {
    Key key = new_key(false), other = new_key(false);
    std::string cert = cert_pem(new_cert(key.get(), "mx", "DNS:mx.example.org").get());
    EXPECT_EQ(data_of(pkcs8_pem(other.get()) + cert, params(3, 1, 1)),
              data_of(cert, params(3, 1, 1)))
        << "Postfix's combined chain files put the key first";
    EXPECT_TRUE(read_pem(pkcs8_pem(other.get()) + cert).key_spki.empty());
}

TEST(TlsaMake, ParametersBlocksAreSkipped) {
    Key key = new_key(false);
    std::string params_block =
        "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n";
    EXPECT_EQ(data_of(params_block + traditional_pem(key.get()), params(3, 1, 1)),
              data_of(pubkey_pem(key.get()), params(3, 1, 1)))
        << "openssl ecparam -genkey writes EC PARAMETERS first";
}

TEST(TlsaMake, MalformedInputsAreClearErrors) {
    Key key = new_key(false);
    std::string cert = cert_pem(new_cert(key.get(), "mx", "DNS:mx.example.org").get());
    const std::string no_pem = "no PEM data (no \"-----BEGIN\" line)";
    EXPECT_EQ(error_of(""), no_pem) << "empty file";
    EXPECT_EQ(error_of("hello, I am a certificate\n"), no_pem) << "not PEM";
    EXPECT_EQ(error_of(std::string("\x30\x82\x01\x00\xff\x00\x7f\x80", 8)), no_pem)
        << "binary garbage (DER is no PEM)";
    EXPECT_EQ(error_of(cert.substr(0, cert.size() / 2)), "PEM block 1 is truncated or corrupt")
        << "cut in the middle, no END line";
    EXPECT_EQ(error_of(cert + cert.substr(0, 40)), "PEM block 2 is truncated or corrupt");
    EXPECT_EQ(error_of("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
              "certificate 1 is not valid DER");
    EXPECT_EQ(error_of("-----BEGIN DH PARAMETERS-----\nAAAA\n-----END DH PARAMETERS-----\n"),
              "no certificate or key in the PEM data");
    EXPECT_EQ(error_of(cert, params(2, 1, 1)),
              "usage 2 publishes certificate 2 of the chain, and it holds 1")
        << "a chain of one certificate has no issuer";
    EXPECT_EQ(error_of(cert, params(0, 0, 1)),
              "usage 0 publishes certificate 2 of the chain, and it holds 1");
    EXPECT_EQ(error_of(cert, params(3, 1, 1, 1)), "--ca goes with usage 0 or 2 (a CA)");
}

TEST(TlsaMake, EncryptedKeysAreRefusedWithoutPrompting) {
    Key key = new_key(false);
    BIO* b = BIO_new(BIO_s_mem());
    char pass[] = "secret";
    PEM_write_bio_PKCS8PrivateKey(b, key.get(), EVP_aes_128_cbc(), pass, 6, nullptr, nullptr);
    EXPECT_EQ(error_of(bio_text(b)),
              "the private key is encrypted: give its public key (openssl pkey -pubout)");
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey_traditional(b, key.get(), EVP_aes_128_cbc(),
                                         reinterpret_cast<unsigned char*>(pass), 6, nullptr,
                                         nullptr);
    EXPECT_EQ(error_of(bio_text(b)),
              "the private key is encrypted: give its public key (openssl pkey -pubout)");
}

TEST(TlsaMake, TheHostIsTheFirstDnsNameThatIsNoWildcard) {
    Key key = new_key(false);
    auto name_of = [&](const char* san) {
        return read_pem(cert_pem(new_cert(key.get(), "mx", san).get())).first_dns_name;
    };
    EXPECT_EQ(name_of("DNS:*.example.org,IP:192.0.2.1,DNS:MX1.Example.Org."), "mx1.example.org");
    EXPECT_EQ(name_of("IP:192.0.2.1"), "");
    EXPECT_EQ(name_of(nullptr), "") << "the CN is not used (RFC 6125 prefers SANs)";
    EXPECT_EQ(read_pem(pubkey_pem(key.get())).first_dns_name, "");
}

TEST(TlsaMake, OwnerAndMatchingTypes) {
    EXPECT_EQ(tlsa_owner("MX.example.org.", 25), "_25._tcp.mx.example.org.");
    EXPECT_EQ(tlsa_owner("mail.example.net", 465), "_465._tcp.mail.example.net.");
    EXPECT_EQ(hex(tlsa_match_data({'a', 'b', 'c'}, 1)),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(tlsa_match_data({1, 2}, 0), (Der{1, 2}));
    EXPECT_EQ(tlsa_match_data({1, 2}, 2).size(), 64u);
    EXPECT_TRUE(tlsa_match_data({1, 2}, 3).empty());
}

}  // namespace
}  // namespace dr::dane
