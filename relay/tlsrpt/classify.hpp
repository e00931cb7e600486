// Which TLSRPT outcomes (RFC 8460 §4.3) one delivery attempt showed, pure: a TLS session
// per connection under the policy of its host (tlsa where DANE applied, sts where an MTA-STS
// policy in enforce mode did, else no-policy-found), hosts a policy refused before any
// connection, and a failed MTA-STS fetch or policy. Connections that never reached TLS for
// other reasons (refused, timed out) are not TLS sessions and count for nothing.
// Entry point: classify().
#pragma once

#include <vector>

#include "dane/destination.hpp"
#include "relay/queue/delivery.hpp"
#include "relay/queue/sts_policies.hpp"
#include "relay/tlsrpt/tally.hpp"

namespace dr::relay::tlsrpt {

// `sts`: what the attempt found of the domain's MTA-STS policy (null: not looked up).
std::vector<SessionOutcome> classify(const dane::Destination& d, const StsFound* sts,
                                     const AttemptReport& report);

// The RFC 8460 §4.3.2.1 result type of a PKIX failure, from OpenSSL's verify error text.
std::string pkix_result_type(const std::string& verify_error);

}  // namespace dr::relay::tlsrpt
