// Resolves one recipient domain into the hosts to try, each with its TLS
// plan: MX, then every host's A/AAAA at once, then TLSA where RFC 7672 wants
// it (all queries of a step in flight together). Entry: resolve_destination().
// DNS problems are not errors here: they end up as Failures in the plans.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <random>

#include "conf/config.hpp"
#include "dane/policy.hpp"
#include "dane/resolver.hpp"

namespace dr::dane {

struct HostResult {
    MxHost mx;
    Lookup<IpAddress> a, aaaa;
    AddressPlan addresses;
    std::vector<TlsaCandidate> tlsa;  // lookups made, best first
    HostPlan plan;
};

struct Destination {
    std::string domain;
    conf::DomainPolicy policy;
    DomainContext context;
    std::optional<Lookup<MxRecord>> mx;  // absent when a next hop is pinned
    MxPlan mx_plan;
    std::vector<HostResult> hosts;
};

asio::awaitable<Destination> resolve_destination(Resolver& resolver, std::string domain,
                                                 const conf::PolicyConfig& policy,
                                                 std::mt19937& rng, std::uint16_t port = 25);

}  // namespace dr::dane
