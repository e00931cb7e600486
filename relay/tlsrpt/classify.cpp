#include "relay/tlsrpt/classify.hpp"

namespace dr::relay::tlsrpt {

namespace {

using dane::TlsRequirement;

std::vector<std::string> policy_lines(const dane::StsPolicy& p) {
    std::vector<std::string> out{"version: STSv1", std::string("mode: ") + to_string(p.mode)};
    for (const auto& m : p.mx) out.push_back("mx: " + m);
    out.push_back("max_age: " + std::to_string(p.max_age));
    return out;
}

PolicyKey sts_key(const StsFound* sts) {
    PolicyKey k{PolicyType::sts, {}, {}};
    if (sts && sts->policy) {
        k.strings = policy_lines(*sts->policy);
        k.mx_hosts = sts->policy->mx;
    }
    return k;
}

PolicyKey key_of(const dane::HostPlan& plan, const StsFound* sts) {
    if (plan.tls == TlsRequirement::dane) {
        PolicyKey k{PolicyType::tlsa, {}, {}};
        for (const auto& r : plan.tlsa) k.strings.push_back(r.to_string());
        return k;
    }
    if (plan.sts) return sts_key(sts);
    return PolicyKey{};
}

const dane::HostPlan* plan_of(const dane::Destination& d, const std::string& host) {
    for (const auto& h : d.hosts)
        if (h.plan.host == host) return &h.plan;
    return nullptr;
}

// A host ruled out before connecting, where a policy (not DNS) ruled it out.
std::optional<SessionOutcome> refused(const dane::Destination& d, const dane::HostPlan& plan,
                                      const StsFound* sts) {
    const auto& f = *plan.failure;
    auto out = [&](PolicyKey k, const char* type) {
        return SessionOutcome{d.domain, std::move(k), FailureKey{type, plan.host, "", f.reason}};
    };
    if (plan.sts) return out(sts_key(sts), "validation-failure");  // not in the policy
    if (plan.tlsa_security == dane::Security::bogus)
        return out(PolicyKey{PolicyType::tlsa, {}, {}}, "dnssec-invalid");
    if (f.reason == dane::failures::no_tlsa().reason) return out(PolicyKey{}, "dane-required");
    if (f.reason == "all TLSA records unusable")
        return out(PolicyKey{PolicyType::tlsa, {}, {}}, "tlsa-invalid");
    return std::nullopt;
}

// The result type of a connection that did not end in a verified session; "" when it was
// no TLS failure (TCP, a timeout, plaintext at a level without TLS).
std::string failure_type(const dane::HostPlan& plan, const ConnectionEvidence& c) {
    if (c.tls && c.tls->failure)
        return plan.tls == TlsRequirement::dane ? "validation-failure"
                                                : pkix_result_type(c.tls->verify_error);
    if (c.tls) return "";
    const auto& r = c.status.reason;
    if (c.status.dsn == "4.7.4" || r.find("refused to start TLS") != std::string::npos)
        return "starttls-not-supported";
    if (r.starts_with("Cannot start TLS")) return "validation-failure";
    // Opportunistic TLS went on in plaintext: the server did not offer STARTTLS.
    if (c.status.ok() && !c.starttls_offered && plan.tls == TlsRequirement::may)
        return "starttls-not-supported";
    return "";
}

}  // namespace

std::string pkix_result_type(const std::string& verify_error) {
    if (verify_error.find("hostname mismatch") != std::string::npos)
        return "certificate-host-mismatch";
    if (verify_error.find("expired") != std::string::npos) return "certificate-expired";
    return "certificate-not-trusted";
}

std::vector<SessionOutcome> classify(const dane::Destination& d, const StsFound* sts,
                                     const AttemptReport& report) {
    std::vector<SessionOutcome> out;
    if (sts && !sts->failure.empty())
        out.push_back({d.domain, sts_key(sts), FailureKey{sts->failure, "", "", sts->why}});
    for (const auto& h : d.hosts)
        if (h.plan.failure)
            if (auto o = refused(d, h.plan, sts)) out.push_back(std::move(*o));
    for (const auto& c : report.connections) {
        const auto* plan = plan_of(d, c.host);
        if (!plan) continue;
        SessionOutcome o{d.domain, key_of(*plan, sts), std::nullopt};
        if (c.tls && !c.tls->failure) {
            out.push_back(std::move(o));
            continue;
        }
        auto type = failure_type(*plan, c);
        if (type.empty()) continue;
        std::string why =
            c.tls && !c.tls->verify_error.empty() ? c.tls->verify_error : c.status.reason;
        o.failure = FailureKey{type, c.host, c.address, why};
        out.push_back(std::move(o));
    }
    return out;
}

}  // namespace dr::relay::tlsrpt
