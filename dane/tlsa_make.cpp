// The TLSA record to publish (see tlsa_make.hpp).
#include "dane/tlsa_make.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace dr::dane {
namespace {

template <class T, void (*F)(T*)>
struct Deleter {
    void operator()(T* p) const { F(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;

// One PEM block as PEM_read_bio returns it; the three buffers are OPENSSL_malloc'ed.
struct PemBlock {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    ~PemBlock() {
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
    }
};

template <class T, int (*I2d)(T*, unsigned char**)>
Der to_der(T* obj) {
    unsigned char* buf = nullptr;
    int n = I2d(obj, &buf);
    if (n <= 0) return {};
    Der out(buf, buf + n);
    OPENSSL_free(buf);
    return out;
}

int i2d_x509(X509* x, unsigned char** out) {
    return i2d_X509(x, out);
}
int i2d_pubkey(EVP_PKEY* k, unsigned char** out) {
    return i2d_PUBKEY(k, out);
}

// The first DNS subjectAltName that can be an MX host name (no wildcard), "" when none.
std::string first_dns_name(X509* x) {
    auto* names =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
    std::string found;
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && found.empty(); ++i) {
        const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
        if (g->type != GEN_DNS) continue;
        const ASN1_STRING* s = g->d.dNSName;
        std::string name(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<std::size_t>(ASN1_STRING_length(s)));
        if (!name.empty() && name.find('*') == std::string::npos) found = normalize_name(name);
    }
    GENERAL_NAMES_free(names);
    return found;
}

std::string add_cert(PemMaterial& out, const PemBlock& b) {
    const unsigned char* p = b.data;
    X509Ptr x(d2i_X509(nullptr, &p, b.len));
    if (!x || p != b.data + b.len)
        return "certificate " + std::to_string(out.certs.size() + 1) + " is not valid DER";
    if (out.certs.empty()) out.first_dns_name = first_dns_name(x.get());
    Der spki = to_der<EVP_PKEY, i2d_pubkey>(X509_get0_pubkey(x.get()));
    if (spki.empty())
        return "certificate " + std::to_string(out.certs.size() + 1) +
               " has a public key OpenSSL cannot encode";
    out.certs.push_back({to_der<X509, i2d_x509>(x.get()), std::move(spki)});
    return "";
}

// The key of a "PUBLIC KEY", "RSA PUBLIC KEY" or private key block; null when it does not
// decode. Encrypted keys are refused by the caller before they get here.
PkeyPtr decode_key(const PemBlock& b) {
    std::string_view name = b.name;
    const unsigned char* p = b.data;
    if (name == "PUBLIC KEY") return PkeyPtr(d2i_PUBKEY(nullptr, &p, b.len));
    if (name == "RSA PUBLIC KEY") return PkeyPtr(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, b.len));
    return PkeyPtr(d2i_AutoPrivateKey(nullptr, &p, b.len));
}

bool is_key_block(std::string_view name) {
    return name == "PUBLIC KEY" || name == "RSA PUBLIC KEY" || name == "PRIVATE KEY" ||
           name == "RSA PRIVATE KEY" || name == "EC PRIVATE KEY" || name == "ENCRYPTED PRIVATE KEY";
}

std::string add_key(PemMaterial& out, const PemBlock& b) {
    if (!out.key_spki.empty()) return "";  // the first key counts
    std::string_view name = b.name;
    if (name == "ENCRYPTED PRIVATE KEY" ||
        std::string_view(b.header).find("ENCRYPTED") != std::string_view::npos)
        return "the private key is encrypted: give its public key (openssl pkey -pubout)";
    PkeyPtr key = decode_key(b);
    if (!key) return "the " + std::string(name) + " is not valid DER";
    out.key_spki = to_der<EVP_PKEY, i2d_pubkey>(key.get());
    if (out.key_spki.empty()) return "the " + std::string(name) + " cannot be encoded as SPKI";
    return "";
}

std::string add_block(PemMaterial& out, const PemBlock& b) {
    std::string_view name = b.name;
    if (name == "CERTIFICATE" || name == "X509 CERTIFICATE") return add_cert(out, b);
    if (is_key_block(name)) return add_key(out, b);
    return "";  // EC PARAMETERS, DH PARAMETERS, ...: nothing to publish
}

// Why PEM_read_bio stopped: the end of the input (""), or a broken block.
std::string pem_stop_reason(std::size_t blocks) {
    unsigned long e = ERR_peek_last_error();
    bool at_end = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
    ERR_clear_error();
    if (at_end) return blocks ? "" : "no PEM data (no \"-----BEGIN\" line)";
    return "PEM block " + std::to_string(blocks + 1) + " is truncated or corrupt";
}

}  // namespace

PemMaterial read_pem(std::string_view pem) {
    PemMaterial out;
    ERR_clear_error();
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    for (std::size_t blocks = 0; out.error.empty(); ++blocks) {
        PemBlock b;
        if (!PEM_read_bio(bio.get(), &b.name, &b.header, &b.data, &b.len)) {
            out.error = pem_stop_reason(blocks);
            break;
        }
        out.error = add_block(out, b);
    }
    if (out.error.empty() && out.certs.empty() && out.key_spki.empty())
        out.error = "no certificate or key in the PEM data";
    if (!out.certs.empty()) out.key_spki.clear();
    ERR_clear_error();
    return out;
}

Der tlsa_match_data(const Der& selected, std::uint8_t mtype) {
    if (mtype == 0) return selected;
    const EVP_MD* md = mtype == 1 ? EVP_sha256() : mtype == 2 ? EVP_sha512() : nullptr;
    if (!md) return {};
    unsigned char buf[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(selected.data(), selected.size(), buf, &n, md, nullptr)) return {};
    return Der(buf, buf + n);
}

namespace {

std::string params_error(const TlsaParams& p) {
    if (p.usage > 3) return "usage must be 0, 1, 2 or 3";
    if (p.selector > 1) return "selector must be 0 or 1";
    if (p.mtype > 2) return "matching type must be 0, 1 or 2";
    if (p.ca && p.usage != 0 && p.usage != 2) return "--ca goes with usage 0 or 2 (a CA)";
    return "";
}

// The bytes the selector names (RFC 6698 §2.1.2), or an error.
TlsaMade select_bytes(const PemMaterial& in, const TlsaParams& p) {
    if (in.certs.empty()) {
        if (p.selector == 0) return {{}, "selector 0 needs a certificate, not a key"};
        if (p.ca) return {{}, "--ca needs a certificate chain, not a key"};
        return {{0, 1, 0, in.key_spki}, ""};
    }
    // RFC 6698 §2.1.1: usages 0 and 2 name a CA, 1 and 3 the server's own certificate.
    unsigned index = (p.usage == 0 || p.usage == 2) ? p.ca.value_or(1) : 0;
    if (index >= in.certs.size())
        return {{},
                "usage " + std::to_string(p.usage) + " publishes certificate " +
                    std::to_string(index + 1) + " of the chain, and it holds " +
                    std::to_string(in.certs.size())};
    const PemCert& c = in.certs[index];
    return {{0, p.selector, 0, p.selector == 0 ? c.der : c.spki}, ""};
}

}  // namespace

TlsaMade make_tlsa(const PemMaterial& in, const TlsaParams& p) {
    if (!in.error.empty()) return {{}, in.error};
    if (auto e = params_error(p); !e.empty()) return {{}, e};
    TlsaMade made = select_bytes(in, p);
    if (!made.error.empty()) return made;
    made.record = {p.usage, p.selector, p.mtype, tlsa_match_data(made.record.data, p.mtype)};
    if (made.record.data.empty()) return {{}, "the digest failed"};
    return made;
}

std::string tlsa_owner(std::string_view host, unsigned port) {
    return "_" + std::to_string(port) + "._tcp." + normalize_name(host) + ".";
}

}  // namespace dr::dane
