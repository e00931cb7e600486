#include "dane/tlsa.hpp"

#include <openssl/x509.h>

namespace dr::dane {

const char* tlsa_usage_name(std::uint8_t usage) {
    switch (usage) {
        case 0:
            return "PKIX-TA";
        case 1:
            return "PKIX-EE";
        case 2:
            return "DANE-TA";
        case 3:
            return "DANE-EE";
        default:
            return "unassigned";
    }
}

namespace {
// Full (matching type 0) associations must at least parse as what the
// selector says, or OpenSSL would reject them later (SSL_dane_tlsa_add).
bool full_data_parses(const TlsaRecord& r) {
    const unsigned char* p = r.data.data();
    const long n = static_cast<long>(r.data.size());
    if (r.selector == 0) {
        X509* x = d2i_X509(nullptr, &p, n);
        bool ok = x && p == r.data.data() + n;
        X509_free(x);
        return ok;
    }
    EVP_PKEY* k = d2i_PUBKEY(nullptr, &p, n);
    bool ok = k && p == r.data.data() + n;
    EVP_PKEY_free(k);
    return ok;
}
}  // namespace

TlsaUsability tlsa_usability(const TlsaRecord& r) {
    // RFC 7672 §3.1.3: PKIX-TA(0) and PKIX-EE(1) are not for SMTP.
    if (r.usage == 0 || r.usage == 1)
        return {false, std::string("usage ") + std::to_string(r.usage) + " (" +
                           tlsa_usage_name(r.usage) + ") is not used with SMTP"};
    if (r.usage != 2 && r.usage != 3)
        return {false, "unsupported usage " + std::to_string(r.usage)};
    if (r.selector > 1) return {false, "unsupported selector " + std::to_string(r.selector)};
    switch (r.mtype) {
        case 0:
            if (!full_data_parses(r))
                return {false, r.selector == 0 ? "full certificate does not parse"
                                               : "full public key does not parse"};
            return {true, {}};
        case 1:
            if (r.data.size() != 32)
                return {false,
                        "SHA2-256 digest has " + std::to_string(r.data.size()) + " octets, not 32"};
            return {true, {}};
        case 2:
            if (r.data.size() != 64)
                return {false,
                        "SHA2-512 digest has " + std::to_string(r.data.size()) + " octets, not 64"};
            return {true, {}};
        default:
            return {false, "unsupported matching type " + std::to_string(r.mtype)};
    }
}

}  // namespace dr::dane
