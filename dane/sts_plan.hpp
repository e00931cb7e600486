// What an MTA-STS policy (RFC 8461) changes in a resolved destination, without I/O: which
// hosts it may touch and, in enforce mode, which MX hosts may be used and how. DANE wins
// wherever it applies (RFC 8461 §2): a host with a usable TLSA RRset keeps its DANE plan and
// is neither filtered nor re-levelled; the policy governs the other hosts. Entry points:
// sts_wanted() (is a policy worth looking up?) and apply_sts().
#pragma once

#include "dane/destination.hpp"
#include "dane/sts.hpp"

namespace dr::dane {

// The levels an MTA-STS policy may raise: dane (where no TLSA applies), may and encrypt.
// dane-only leaves authentication to DANE alone, verify is PKIX already, none is the
// operator's explicit choice of plaintext.
bool sts_level(conf::TlsLevel level);

// True when the domain's MTA-STS policy could change how this destination is used: the
// domain's level allows it, the hosts came from its MX lookup (no pinned next hop, RFC 8461
// §4.1 is about MX hosts), the lookup found hosts, and at least one usable host has no DANE.
bool sts_wanted(const Destination& d);

// RFC 8461 §4.1 and §5: in enforce mode a non-DANE host whose name matches none of the
// policy's `mx` patterns is not used (Failure 4.7.5, deferred), and a matching one needs TLS
// verified against the CAs for the MX host name (the "verify" requirement, plan.sts set).
// Testing mode changes nothing (the policy is only reported on), nor does mode none.
void apply_sts(Destination& d, const StsPolicy& policy);

namespace failures {
Failure sts_mx_mismatch(const std::string& host);
}

}  // namespace dr::dane
