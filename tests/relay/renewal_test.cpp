// judge_renewal() (relay/cli/renewal.hpp), `monitor --cert`'s question "would a DANE sender
// accept this chain from the host?", with real certificates made in memory. Expectations from
// RFC 7671 §5 and RFC 7672 §3.1, §3.2.3: DANE-EE(3) binds the leaf's key alone (no names, no
// dates, no chain); DANE-TA(2) needs an issuer in the chain that matches the record, a chain
// that links the leaf to it, and a leaf carrying one of the reference identifiers.
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <gtest/gtest.h>
#include <memory>

#include "relay/cli/renewal.hpp"

namespace dr::relay {
namespace {

template <class T, void (*F)(T*)>
struct Free {
    void operator()(T* p) const { F(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Free<X509, X509_free>>;

constexpr std::int64_t kDay = 86400;

Key new_key() {
    return Key(EVP_EC_gen("P-256"));
}

void extension(X509* x, X509* issuer, int nid, const char* value) {
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, x, nullptr, nullptr, 0);
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

// A certificate for `key` named `cn` (a DNS SAN too, unless a CA), issued by `issuer` (self
// when null), valid from a day ago for `days`.
X509Ptr make(EVP_PKEY* key, const char* cn, bool ca, X509* issuer = nullptr,
             EVP_PKEY* issuer_key = nullptr, long days = 90) {
    static long serial = 1;
    X509Ptr x(X509_new());
    X509_set_version(x.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), -kDay);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), days * kDay);
    X509_NAME* name = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                               -1, -1, 0);
    X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name);
    X509_set_pubkey(x.get(), key);
    X509* signer = issuer ? issuer : x.get();
    extension(x.get(), signer, NID_basic_constraints,
              ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    if (!ca) extension(x.get(), signer, NID_subject_alt_name, (std::string("DNS:") + cn).c_str());
    X509_sign(x.get(), issuer_key ? issuer_key : key, EVP_sha256());
    return x;
}

PeerCert peer(X509* x) {
    unsigned char* p = nullptr;
    int n = i2d_X509(x, &p);
    dane::Der der(p, p + n);
    OPENSSL_free(p);
    return *peer_cert_of(der);
}

// A usage U selector 1 SHA-256 record of `c`'s key.
dane::TlsaRecord record(std::uint8_t usage, const PeerCert& c) {
    return dane::TlsaRecord{usage, 1, 1, dane::tlsa_match_data(c.spki, 1)};
}

dane::HostPlan plan(std::vector<dane::TlsaRecord> records) {
    dane::HostPlan p;
    p.host = "mx.x.test";
    p.tls = dane::TlsRequirement::dane;
    p.tlsa_base = "mx.x.test";
    p.match_names = {"mx.x.test"};
    p.tlsa = std::move(records);
    return p;
}

std::int64_t now() {
    return static_cast<std::int64_t>(time(nullptr));
}

TEST(Renewal, DaneEeBindsTheKeyAlone) {
    Key key = new_key(), other = new_key();
    auto live = peer(make(key.get(), "mx.x.test", false).get());
    auto p = plan({record(3, live)});
    // Renewed with the same key, under another name, even expired: still matches 3 1 1.
    auto same = peer(make(key.get(), "wrong.example", false, nullptr, nullptr, -2).get());
    auto v = judge_renewal(p, {same}, now());
    EXPECT_TRUE(v.accepted) << v.why;
    EXPECT_EQ(v.depth, 0);
    ASSERT_TRUE(v.matched);
    EXPECT_EQ(*v.matched, record(3, live));
    // A new key matches nothing.
    v = judge_renewal(p, {peer(make(other.get(), "mx.x.test", false).get())}, now());
    EXPECT_FALSE(v.accepted);
    EXPECT_FALSE(v.why.empty());
}

struct RenewalDaneTa : ::testing::Test {
    Key ca_key = new_key(), other_ca_key = new_key(), leaf_key = new_key();
    X509Ptr ca = make(ca_key.get(), "TA", true);
    X509Ptr other_ca = make(other_ca_key.get(), "Other CA", true);
    dane::HostPlan p = plan({record(2, peer(ca.get()))});

    PeerCert leaf(const char* name, X509* issuer, EVP_PKEY* issuer_key) {
        return peer(make(leaf_key.get(), name, false, issuer, issuer_key).get());
    }
};

TEST_F(RenewalDaneTa, AChainThroughTheTrustAnchorToANamedLeafIsAccepted) {
    auto v = judge_renewal(p, {leaf("mx.x.test", ca.get(), ca_key.get()), peer(ca.get())}, now());
    EXPECT_TRUE(v.accepted) << v.why;
    EXPECT_EQ(v.depth, 1);
}

TEST_F(RenewalDaneTa, AChainFromAnotherCaIsRefused) {
    auto v = judge_renewal(
        p, {leaf("mx.x.test", other_ca.get(), other_ca_key.get()), peer(other_ca.get())}, now());
    EXPECT_FALSE(v.accepted);
}

TEST_F(RenewalDaneTa, TheTrustAnchorMustIssueTheChainNotJustBeInIt) {
    // The TA's certificate is in the file, but the leaf comes from another CA.
    auto v = judge_renewal(
        p, {leaf("mx.x.test", other_ca.get(), other_ca_key.get()), peer(ca.get())}, now());
    EXPECT_FALSE(v.accepted);
}

TEST_F(RenewalDaneTa, ALeafNotNamedAfterTheHostIsRefused) {
    // RFC 7672 §3.2.3: with DANE-TA the leaf must carry a reference identifier.
    auto v =
        judge_renewal(p, {leaf("wrong.example", ca.get(), ca_key.get()), peer(ca.get())}, now());
    EXPECT_FALSE(v.accepted);
    EXPECT_NE(v.why.find("hostname"), std::string::npos) << v.why;
}

TEST_F(RenewalDaneTa, TheLeafAloneDoesNotReachTheTrustAnchor) {
    // The chain is needed: the issuer is not sent, so the TA is not in it.
    auto v = judge_renewal(p, {leaf("mx.x.test", ca.get(), ca_key.get())}, now());
    EXPECT_FALSE(v.accepted);
}

}  // namespace
}  // namespace dr::relay
