#include "dane/sts_plan.hpp"

namespace dr::dane {

bool sts_level(conf::TlsLevel level) {
    using conf::TlsLevel;
    return level == TlsLevel::dane || level == TlsLevel::may || level == TlsLevel::encrypt;
}

bool sts_wanted(const Destination& d) {
    if (!sts_level(d.context.level) || !d.mx || d.mx_plan.failure) return false;
    for (const auto& h : d.hosts)
        if (!h.plan.failure && h.plan.tls != TlsRequirement::dane) return true;
    return false;
}

namespace failures {
Failure sts_mx_mismatch(const std::string& host) {
    return Failure{false, "4.7.5", "MX host " + host + " does not match the MTA-STS policy"};
}
}  // namespace failures

namespace {

// The MX host's name is the reference identifier, and the SNI (RFC 8461 §4.1); the
// policy's patterns decide which hosts are tried at all, not which names a certificate
// may carry.
void require_pkix(HostPlan& plan) {
    plan.tls = TlsRequirement::verify;
    plan.sts = true;
    plan.half_dane = false;
    plan.tlsa_base = plan.host;
    plan.match_names = {plan.host};
}

}  // namespace

void apply_sts(Destination& d, const StsPolicy& policy) {
    if (policy.mode != StsMode::enforce) return;
    for (auto& h : d.hosts) {
        auto& plan = h.plan;
        if (plan.failure || plan.tls == TlsRequirement::dane) continue;
        if (!sts_policy_allows(policy, plan.host)) {
            plan.failure = failures::sts_mx_mismatch(plan.host);
            plan.sts = true;  // refused by the policy (TLSRPT counts it)
        } else {
            require_pkix(plan);
        }
    }
}

}  // namespace dr::dane
