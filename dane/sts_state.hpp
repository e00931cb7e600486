// Which MTA-STS policy applies to a domain now (RFC 8461 §3.3 and §5.1), decided
// without I/O from the `_mta-sts` TXT lookup, the policy cached on disk and the result of
// fetching the policy: when to fetch, what to cache, what to apply, and the TLSRPT
// result type (RFC 8460) of a failure. The rule the code keeps above all: a fetch or
// a TXT lookup that fails, or a policy that does not parse, never replaces a cached,
// unexpired policy by "no policy". Entry points: sts_first_step(), sts_after_fetch().
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "dane/dns.hpp"
#include "dane/sts.hpp"

namespace dr::dane {

// A policy as cached: the TXT id it was fetched under, when (Unix seconds), the policy.
struct StsCached {
    std::string id;
    std::int64_t fetched = 0;
    StsPolicy policy;
    std::string text;  // the policy file as fetched (what the disk cache keeps)
    // Unexpired: within max_age of the last fetch or confirmation.
    bool fresh(std::int64_t now) const {
        return now >= fetched && now - fetched < static_cast<std::int64_t>(policy.max_age);
    }
};

// The `_mta-sts` TXT lookup: a chosen record, none (NXDOMAIN, NODATA, no STSv1 record),
// or a lookup failure (SERVFAIL, bogus, timeout).
struct StsTxt {
    enum class Kind { record, none, failed } kind = Kind::none;
    std::string id;   // kind == record
    std::string why;  // none, failed: for the log ("no v=STSv1 record", "SERVFAIL", ...)
};

// The TXT lookup of _mta-sts.<domain> as an StsTxt. NXDOMAIN, NODATA and an RRset without
// exactly one valid STSv1 record are none (RFC 8461 §3.1); a lookup that failed, a bogus
// answer or an undecodable record is failed (it cannot tell that the record went away).
// DNSSEC is not required: MTA-STS trusts the policy's HTTPS, not DNS.
StsTxt sts_txt_from(const Lookup<std::string>& lookup);

struct StsStep {
    enum class Do {
        apply_cached,  // the cached policy applies, no fetch
        fetch,         // fetch the policy (then sts_after_fetch)
        no_policy,     // the domain has no MTA-STS policy now
    } what = Do::no_policy;
    // apply_cached only: the TXT id equals the cached one, so the cache's clock may be reset
    // to now (the policy was just confirmed).
    bool confirmed = false;
};

StsStep sts_first_step(const StsTxt& txt, const std::optional<StsCached>& cached, std::int64_t now);

// What a fetch brought back: a body, or a failure of the HTTPS fetch itself.
struct StsFetch {
    enum class Kind {
        body,          // a 200 with Content-Type text/plain, within the limits
        fetch_error,   // no connection, timeout, non-200 (redirects too), wrong type, oversize
        webpki_error,  // the certificate did not verify for mta-sts.<domain>
    } kind = Kind::fetch_error;
    std::string body;
    std::string why;  // for the log and the report
};

struct StsOutcome {
    std::optional<StsPolicy> apply;  // nullopt: no MTA-STS policy applies (mode none too)
    std::optional<StsCached> store;  // write this to the cache (replacing the old entry)
    // Set when the fetch failed or the policy was bad: "sts-policy-fetch-error",
    // "sts-webpki-invalid" or "sts-policy-invalid"; empty otherwise.
    std::string failure;
    std::string why;
};

// After fetching the policy for TXT id `id`.
StsOutcome sts_after_fetch(const std::string& id, const StsFetch& fetch,
                           const std::optional<StsCached>& cached, std::int64_t now);

}  // namespace dr::dane
