#include "dane/destination.hpp"

namespace dr::dane {

namespace {

asio::awaitable<void> resolve_addresses(Resolver& resolver, std::vector<HostResult>& hosts) {
    std::vector<Resolver::Pending<IpAddress>> a, aaaa;
    for (const auto& h : hosts) {
        a.push_back(resolver.a(h.mx.name));
        aaaa.push_back(resolver.aaaa(h.mx.name));
    }
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        hosts[i].a = co_await a[i].get();
        hosts[i].aaaa = co_await aaaa[i].get();
        hosts[i].addresses = plan_addresses(hosts[i].mx.name, hosts[i].a, hosts[i].aaaa);
    }
}

asio::awaitable<void> resolve_tlsa(Resolver& resolver, const DomainContext& ctx,
                                   std::vector<HostResult>& hosts) {
    std::vector<std::vector<Resolver::Pending<TlsaRecord>>> pending(hosts.size());
    // Appended: "..." + std::string gives a false -Wrestrict at -O3 (GCC 12, bug 105329).
    std::string prefix = "_";
    prefix.append(std::to_string(ctx.port)).append("._tcp.");
    for (std::size_t i = 0; i < hosts.size(); ++i)
        for (const auto& base : tlsa_names(ctx, hosts[i].mx.name, hosts[i].addresses)) {
            hosts[i].tlsa.push_back({base, {}});
            pending[i].push_back(resolver.tlsa(prefix + base));
        }
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        for (std::size_t j = 0; j < pending[i].size(); ++j)
            hosts[i].tlsa[j].lookup = co_await pending[i][j].get();
        hosts[i].plan = plan_host(ctx, hosts[i].mx.name, hosts[i].addresses, hosts[i].tlsa);
    }
}

}  // namespace

asio::awaitable<Destination> resolve_destination(Resolver& resolver, std::string domain,
                                                 const conf::PolicyConfig& policy,
                                                 std::mt19937& rng, std::uint16_t port) {
    Destination d;
    d.domain = normalize_name(domain);
    d.policy = policy.for_domain(d.domain);
    d.context = {d.domain, d.policy.level, policy.insecure_mx_policy, Security::secure, port};

    const auto& hop = d.policy.nexthop;
    if (hop) d.context.port = hop->port;
    if (hop && hop->address) {
        // "[192.0.2.1]": no DNS at all, so no DNSSEC and no DANE (RFC 7672 §2.2).
        d.context.mx_security = d.mx_plan.mx_security = Security::insecure;
        HostResult h{{hop->host, 0}, {}, {}, {}, {}, {}};
        IpAddress ip;
        ip.family = hop->address->family == conf::IpAddress::Family::v4 ? IpAddress::Family::v4
                                                                        : IpAddress::Family::v6;
        ip.bytes = hop->address->bytes;
        h.addresses.addresses = {ip};
        h.addresses.security = Security::insecure;
        h.addresses.canonical = hop->host;
        h.plan = plan_host(d.context, hop->host, h.addresses, {});
        d.hosts.push_back(std::move(h));
        co_return d;
    }
    if (hop && !hop->mx_lookup) {
        // A configured host is trusted like a secure MX RRset (Postfix's
        // behaviour for [host] next hops); its addresses still need DNSSEC.
        d.mx_plan.mx_security = Security::secure;
        d.mx_plan.hosts.push_back({hop->host, 0});
    } else {
        const std::string mx_name = hop ? hop->host : d.domain;
        d.mx = co_await resolver.mx(mx_name).get();
        d.mx_plan = plan_mx(mx_name, *d.mx, d.policy.level, rng);
        d.context.mx_security = d.mx_plan.mx_security;
    }
    if (d.mx_plan.failure) co_return d;

    for (const auto& h : d.mx_plan.hosts) d.hosts.push_back(HostResult{h, {}, {}, {}, {}, {}});
    co_await resolve_addresses(resolver, d.hosts);
    co_await resolve_tlsa(resolver, d.context, d.hosts);
    co_return d;
}

}  // namespace dr::dane
