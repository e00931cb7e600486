// See requiretls_plan.hpp.
#include "dane/requiretls_plan.hpp"

namespace dr::dane {

namespace failures {
Failure requiretls_unauthenticated(const std::string& host) {
    return Failure{true, "5.7.10",
                   "REQUIRETLS: no authenticated TLS for MX host " + host +
                       " (neither DANE nor MTA-STS nor a DNSSEC-signed MX with PKIX)"};
}
}  // namespace failures

namespace {

// The MX name was authenticated (signed MX RRset), or the host is a pinned next hop
// (the operator's own choice).
bool name_authenticated(const Destination& d) {
    return !d.mx || d.mx->secure();
}

}  // namespace

void apply_requiretls(Destination& d) {
    const bool named = name_authenticated(d);
    for (auto& h : d.hosts) {
        auto& plan = h.plan;
        if (plan.failure) continue;
        const bool dane = plan.tls == TlsRequirement::dane && !plan.half_dane;
        const bool pkix = plan.tls == TlsRequirement::verify && (named || plan.sts);
        if (dane || pkix) continue;
        if (named && plan.tls != TlsRequirement::dane) {  // raised to PKIX for the MX name
            plan.tls = TlsRequirement::verify;
            plan.tlsa_base = plan.host;
            plan.match_names = {plan.host};
            continue;
        }
        plan.failure = failures::requiretls_unauthenticated(plan.host);
    }
}

void apply_tls_optional(Destination& d) {
    // Recipient-side policy only: levels the operator set for the domain (encrypt, verify,
    // dane-only, none) stay.
    if (d.context.level != conf::TlsLevel::dane && d.context.level != conf::TlsLevel::may) return;
    for (auto& h : d.hosts) {
        auto& plan = h.plan;
        if (plan.addresses.empty()) continue;  // DNS and address failures stay
        // Refusals by policy go (DANE's and MTA-STS's); others stay.
        if (plan.failure && !plan.sts && plan.tls != TlsRequirement::dane) continue;
        plan.failure.reset();
        plan.tls = TlsRequirement::may;
        plan.sts = false;
        plan.half_dane = false;
        plan.tlsa.clear();
        plan.match_names.clear();
    }
}

}  // namespace dr::dane
