// `monitor --cert FILE`: would a DANE sender accept this renewed certificate (chain, leaf
// first) from the host, before it is deployed? OpenSSL's own DANE verification (the one a
// handshake runs) is applied offline to the chain, with the host's plan: DANE-EE(3) against
// the leaf's data alone, DANE-TA(2) against an issuer in the chain, which must link the leaf
// to that trust anchor, and the leaf's names checked (RFC 7671 §5, RFC 7672 §3.1, §3.2.3).
// Entry point: judge_renewal().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dane/policy.hpp"
#include "relay/cli/check.hpp"

namespace dr::relay {

struct RenewalVerdict {
    bool accepted = false;
    std::string why;                          // not accepted: OpenSSL's reason
    std::optional<dane::TlsaRecord> matched;  // accepted: the record that matched
    int depth = -1;                           // accepted: its chain depth (0 = leaf)
};

// `plan` is a DANE plan (tls == dane); `now` the Unix time the dates are checked at.
RenewalVerdict judge_renewal(const dane::HostPlan& plan, const std::vector<PeerCert>& chain,
                             std::int64_t now);

}  // namespace dr::relay
