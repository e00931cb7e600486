// The SMTP envelope as both sessions see it (RFC 5321 §2.3.1, RFC 3461 DSN, RFC 6152, RFC 6531,
// RFC 8689).
// Entry points: Envelope, Recipient, BodyType. Plain data; no failures.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dr::smtp {

enum class BodyType { unspecified, seven_bit, eight_bit_mime };

struct Recipient {
    std::string address;  // without angle brackets
    std::string notify;   // RFC 3461 NOTIFY value, e.g. "SUCCESS,FAILURE"; empty: none
    std::string orcpt;    // RFC 3461 ORCPT decoded, e.g. "rfc822;user@example.org"; empty: none
    bool operator==(const Recipient&) const = default;
};

struct Envelope {
    std::string sender;  // empty: the null reverse-path <>
    std::vector<Recipient> recipients;
    BodyType body = BodyType::unspecified;
    bool smtputf8 = false;
    std::string ret;                    // RFC 3461 RET: "FULL" or "HDRS"; empty: none
    std::string envid;                  // RFC 3461 ENVID, decoded; empty: none
    std::optional<std::uint64_t> size;  // RFC 1870 SIZE as declared by the client
    bool requiretls = false;            // RFC 8689 MAIL FROM REQUIRETLS
    bool tls_optional = false;          // RFC 8689 §4.1 "TLS-Required: No" (without REQUIRETLS)
    bool operator==(const Envelope&) const = default;
};

}  // namespace dr::smtp
