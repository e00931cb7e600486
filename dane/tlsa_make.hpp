// Making the TLSA record to publish (RFC 6698 §2.1, RFC 7671 §5), the pure part of
// `dane-relay tlsa`: PEM text in, record data out. Entry points: read_pem(), make_tlsa(),
// tlsa_owner(). Failures are values (TlsaMade::error): the input is not what the record needs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dane/dns.hpp"

namespace dr::dane {

using Der = std::vector<std::uint8_t>;

// What a PEM file holds: its certificates in file order (leaf first, as in fullchain.pem), or,
// when it has none, one public or private key. Certificates win: a key next to them (Postfix's
// combined chain files) is ignored.
struct PemCert {
    Der der;   // the certificate (selector 0)
    Der spki;  // its SubjectPublicKeyInfo (selector 1)
};

struct PemMaterial {
    std::vector<PemCert> certs;
    Der key_spki;                // SubjectPublicKeyInfo DER of the key; empty with certificates
    std::string first_dns_name;  // the leaf's first non-wildcard DNS SAN, "" when none
    std::string error;           // not empty: nothing usable, and why
};

// Parses every PEM block of `pem`. Errors: no PEM at all, a truncated or corrupt block, a
// certificate or key whose DER does not decode, an encrypted private key (never prompts).
PemMaterial read_pem(std::string_view pem);

struct TlsaParams {
    std::uint8_t usage = 3;     // 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE
    std::uint8_t selector = 1;  // 0 full certificate, 1 SubjectPublicKeyInfo
    std::uint8_t mtype = 1;     // 0 full data, 1 SHA-256, 2 SHA-512
    // Which certificate of the chain usages 0 and 2 publish: 1 = the issuer of the leaf (the
    // second in the file), 2 = the next, ...; 0 = the first certificate of the file itself.
    // nullopt = 1. Usages 1 and 3 always take the leaf.
    std::optional<unsigned> ca;
};

struct TlsaMade {
    TlsaRecord record;
    std::string error;  // not empty: no record, and why
};

// The record for `in`: picks the certificate (or the key) the usage names, takes the selector's
// bytes and applies the matching type. Errors: selector 0 with a key, a chain too short for the
// chosen CA, parameters out of range.
TlsaMade make_tlsa(const PemMaterial& in, const TlsaParams& p);

// The matching type applied to the selected bytes: the bytes (0), SHA-256 (1) or SHA-512 (2).
// Empty for any other matching type.
Der tlsa_match_data(const Der& selected, std::uint8_t mtype);

// "_25._tcp.mx.example.org." for port 25 and host "mx.example.org" (RFC 6698 §3).
std::string tlsa_owner(std::string_view host, unsigned port);

}  // namespace dr::dane
