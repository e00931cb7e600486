#include "dane/policy.hpp"

#include <algorithm>

#include "dane/tlsa.hpp"

namespace dr::dane {

using conf::TlsLevel;

const char* to_string(TlsRequirement r) {
    switch (r) {
        case TlsRequirement::none:
            return "none";
        case TlsRequirement::may:
            return "may";
        case TlsRequirement::encrypt:
            return "encrypt";
        case TlsRequirement::verify:
            return "verify";
        case TlsRequirement::dane:
            return "dane";
    }
    return "?";
}

namespace failures {

namespace {
Failure name_service(const std::string& name, const char* type, bool permanent) {
    std::string text = "Host or domain name not found. Name service error for name=" + name +
                       " type=" + type + ": Host not found";
    if (!permanent) text += ", try again";
    return {permanent, permanent ? "5.4.4" : "4.4.3", std::move(text)};
}
}  // namespace

Failure dns(const std::string& name, const char* type, const Lookup<MxRecord>& l) {
    return name_service(name, type, l.ok() && l.outcome == Outcome::nxdomain);
}

Failure dns_address(const std::string& name, const char* type, bool permanent) {
    return name_service(name, type, permanent);
}

Failure null_mx(const std::string& domain) {
    return {true, "5.1.10", "Domain " + domain + " does not accept mail (nullMX)"};
}

Failure tlsa_error(const std::string& host, std::uint16_t port) {
    return {false, "4.7.5", "TLSA lookup error for " + host + ":" + std::to_string(port)};
}

Failure not_dnssec() {
    return {false, "4.7.5", "non DNSSEC destination"};
}
Failure no_tlsa() {
    return {false, "4.7.5", "no TLSA records found"};
}

}  // namespace failures

namespace {

bool dane_level(TlsLevel l) {
    return l == TlsLevel::dane || l == TlsLevel::dane_only;
}

// A usable MX target: LDH labels (underscore tolerated), nothing escaped.
bool valid_host_name(const std::string& name) {
    if (name.empty() || name.size() > 253) return false;
    std::size_t label = 0;
    for (char c : name) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
        if (++label > 63) return false;
    }
    return label > 0;
}

// RFC 5321 §5.1: lowest preference first, random order among equals.
std::vector<MxHost> order_hosts(const std::vector<MxRecord>& records, std::mt19937& rng) {
    std::vector<MxHost> hosts;
    for (const auto& r : records) hosts.push_back({r.host, r.preference});
    std::shuffle(hosts.begin(), hosts.end(), rng);
    std::stable_sort(hosts.begin(), hosts.end(),
                     [](const MxHost& a, const MxHost& b) { return a.preference < b.preference; });
    return hosts;
}

}  // namespace

MxPlan plan_mx(const std::string& domain, const Lookup<MxRecord>& mx, TlsLevel policy,
               std::mt19937& rng) {
    MxPlan plan;
    plan.mx_security = mx.security;
    // SPEC §5.1: bogus or failed lookups defer; only a clean NXDOMAIN bounces.
    if (!mx.ok()) {
        plan.failure = failures::dns(domain, "MX", mx);
        return plan;
    }
    if (mx.outcome == Outcome::nxdomain) {
        plan.failure = failures::dns(domain, "MX", mx);
        return plan;
    }
    if (policy == TlsLevel::dane_only && !mx.secure()) {
        plan.failure = failures::not_dnssec();
        return plan;
    }
    if (mx.outcome == Outcome::nodata || mx.records.empty()) {
        // RFC 5321 §5.1: no MX RRset, the domain is the implicit MX.
        plan.implicit = true;
        plan.hosts.push_back({domain, 0});
        return plan;
    }
    // RFC 7505 §3: "MX 0 ." means the domain accepts no mail at all.
    for (const auto& r : mx.records)
        if (r.host.empty()) {
            plan.failure = failures::null_mx(domain);
            return plan;
        }
    std::vector<MxRecord> good;
    for (const auto& r : mx.records) {
        if (valid_host_name(r.host))
            good.push_back(r);
        else
            plan.notes.push_back("skipping MX record for " + domain + ": invalid host name " +
                                 r.host);
    }
    if (good.empty()) {
        plan.failure =
            Failure{false, "4.4.3",
                    "Host or domain name not found. Name service error for name=" + domain +
                        " type=MX: Malformed or unexpected name server reply"};
        return plan;
    }
    plan.hosts = order_hosts(good, rng);
    return plan;
}

AddressPlan plan_addresses(const std::string& host, const Lookup<IpAddress>& a,
                           const Lookup<IpAddress>& aaaa) {
    AddressPlan plan;
    plan.canonical = host;
    // RFC 7672 §2.2: a host whose address lookup is bogus or failed is not used.
    for (auto [l, type] : {std::pair{&a, "A"}, std::pair{&aaaa, "AAAA"}}) {
        if (!l->ok()) {
            plan.failure = failures::dns_address(host, type, false);
            return plan;
        }
    }
    for (const auto* l : {&a, &aaaa})
        plan.addresses.insert(plan.addresses.end(), l->records.begin(), l->records.end());
    plan.security = a.secure() && aaaa.secure() ? Security::secure : Security::insecure;
    if (plan.addresses.empty()) {
        plan.failure = failures::dns_address(host, "A", true);
        return plan;
    }
    // RFC 7672 §2.2.2: the expanded name counts only when the whole CNAME
    // chain validated.
    const auto& found = a.records.empty() ? aaaa : a;
    if (plan.security == Security::secure && !found.canonical.empty())
        plan.canonical = found.canonical;
    return plan;
}

std::vector<std::string> tlsa_names(const DomainContext& ctx, const std::string& host,
                                    const AddressPlan& addrs) {
    if (addrs.failure || !dane_level(ctx.level)) return {};
    if (ctx.mx_security != Security::secure && ctx.insecure_mx_policy != TlsLevel::dane) return {};
    // RFC 7672 §2.2: TLSA only for hosts whose address records are secure.
    if (addrs.security != Security::secure) return {};
    if (addrs.canonical != host) return {addrs.canonical, host};
    return {host};
}

namespace {

void set_level(HostPlan& plan, TlsLevel level) {
    switch (level) {
        case TlsLevel::none:
            plan.tls = TlsRequirement::none;
            break;
        case TlsLevel::encrypt:
            plan.tls = TlsRequirement::encrypt;
            break;
        case TlsLevel::verify:
            plan.tls = TlsRequirement::verify;
            break;
        default:
            plan.tls = TlsRequirement::may;
            break;
    }
}

void add_name(std::vector<std::string>& names, const std::string& n) {
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
}

// Applies the first decisive TLSA RRset; returns false when none was.
bool apply_tlsa(const DomainContext& ctx, HostPlan& plan, const std::vector<TlsaCandidate>& tlsa) {
    for (const auto& cand : tlsa) {
        const auto& l = cand.lookup;
        plan.tlsa_security = l.security;
        if (!l.ok()) {
            plan.failure = failures::tlsa_error(plan.host, ctx.port);
            return true;
        }
        if (!l.secure() || l.outcome != Outcome::found) continue;  // no DANE at this name
        for (const auto& r : l.records)
            if (tlsa_usability(r).usable) plan.tlsa.push_back(r);
        plan.tlsa_base = cand.base;
        if (plan.tlsa.empty()) {
            // Postfix: dane-only has no fallback when the records are unusable.
            if (ctx.level == TlsLevel::dane_only) {
                plan.failure = Failure{false, "4.7.5", "all TLSA records unusable"};
                return true;
            }
            // RFC 7672 §2.2: secure but unusable records still mean "encrypt".
            plan.tls = TlsRequirement::encrypt;
            plan.notes.push_back(plan.host +
                                 ": all TLSA records unusable, fallback to unauthenticated TLS");
            return true;
        }
        plan.tls = TlsRequirement::dane;
        add_name(plan.match_names, cand.base);
        add_name(plan.match_names, ctx.domain);
        return true;
    }
    return false;
}

}  // namespace

HostPlan plan_host(const DomainContext& ctx, const std::string& host, const AddressPlan& addrs,
                   const std::vector<TlsaCandidate>& tlsa) {
    HostPlan plan;
    plan.host = host;
    plan.addresses = addrs.addresses;
    plan.address_security = addrs.security;
    plan.failure = addrs.failure;
    if (plan.failure) return plan;

    if (!dane_level(ctx.level)) {
        set_level(plan, ctx.level);
        if (plan.tls == TlsRequirement::verify) {
            plan.tlsa_base = host;  // SNI
            add_name(plan.match_names, host);
            add_name(plan.match_names, ctx.domain);
        }
        return plan;
    }
    const bool mx_secure = ctx.mx_security == Security::secure;
    if (!mx_secure) {
        if (ctx.level == TlsLevel::dane_only) {
            plan.failure = failures::not_dnssec();
            return plan;
        }
        if (ctx.insecure_mx_policy != TlsLevel::dane) {
            set_level(plan, ctx.insecure_mx_policy);
            return plan;
        }
        plan.half_dane = true;  // Postfix: a match is only "Trusted"
    }
    if (addrs.security != Security::secure) {
        plan.half_dane = false;
        if (ctx.level == TlsLevel::dane_only)
            plan.failure = failures::not_dnssec();
        else
            plan.tls = TlsRequirement::may;
        return plan;
    }
    if (apply_tlsa(ctx, plan, tlsa)) {
        if (plan.tls != TlsRequirement::dane) plan.half_dane = false;
        return plan;
    }
    plan.half_dane = false;
    if (ctx.level == TlsLevel::dane_only)
        plan.failure = failures::no_tlsa();
    else
        plan.tls = TlsRequirement::may;
    return plan;
}

}  // namespace dr::dane
