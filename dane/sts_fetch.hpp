// Fetches a domain's MTA-STS policy, https://mta-sts.<domain>/.well-known/mta-sts.txt,
// as RFC 8461 §3.3 asks: HTTPS only, the certificate verified (PKIX, the system CAs or
// `ca_file`) for mta-sts.<domain>, no redirects followed, a 200 with media type
// text/plain, at most kStsMaxPolicyBytes, within a time limit (dane/https.hpp). Blocking:
// run it off the event loop (relay/spool/off_loop.hpp). The result feeds
// sts_after_fetch() (dane/sts_state.hpp). Entry point: fetch_sts_policy().
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "dane/sts_state.hpp"

namespace dr::dane {

struct StsFetchOptions {
    std::string ca_file;                        // "" = the system CAs
    std::chrono::milliseconds timeout{60'000};  // the whole fetch (RFC 8461 §3.3: one minute)
    // Addresses of mta-sts.<domain> ("192.0.2.1", "2001:db8::1"), looked up by the caller
    // through its own resolver; empty = the system resolver.
    std::vector<std::string> addresses;
    unsigned port = 443;  // tests only: where to connect (the URL and names stay :443)
};

StsFetch fetch_sts_policy(const std::string& domain, const StsFetchOptions& options);

}  // namespace dr::dane
