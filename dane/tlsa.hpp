// Which TLSA records an SMTP client can use (RFC 7672 §3.1.3, RFC 6698 §2.1).
// Entry point: tlsa_usability(). Pure; an unusable record carries the reason
// shown by `dane-relay check` and logged when a whole RRset is unusable.
#pragma once

#include <string>

#include "dane/dns.hpp"

namespace dr::dane {

struct TlsaUsability {
    bool usable = false;
    std::string why;  // empty when usable
};

TlsaUsability tlsa_usability(const TlsaRecord& r);

// Usage names as RFC 7218 spells them: "DANE-EE", "PKIX-TA", …
const char* tlsa_usage_name(std::uint8_t usage);

}  // namespace dr::dane
