// What RFC 8689 changes in a resolved destination, without I/O. A REQUIRETLS message
// (§4.2.1) goes only to hosts whose TLS is authenticated for the MX name: DANE with the MX
// RRset signed (RFC 7672), or PKIX for the MX host name where the MX RRset is signed or an
// MTA-STS policy in enforce mode matched the host (RFC 8461 §4.1); a signed MX host without
// TLSA is raised to PKIX. Every other host fails (5.7.10, permanent: it cannot authenticate
// however often it is tried). That the server offers REQUIRETLS is checked once connected
// (smtp/client_session.hpp, 5.7.30). A message with "TLS-Required: No" (§4.2.2, honoured
// per [requiretls]) goes as at the may level: TLS when offered, unverified, DANE and MTA-STS
// not applied. Entry points: apply_requiretls(), apply_tls_optional().
#pragma once

#include "dane/destination.hpp"

namespace dr::dane {

void apply_requiretls(Destination& d);
void apply_tls_optional(Destination& d);

namespace failures {
Failure requiretls_unauthenticated(const std::string& host);
}

}  // namespace dr::dane
