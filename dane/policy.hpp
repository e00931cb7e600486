// The RFC 7672 decision (SPEC §5) as pure functions of validated DNS results
// and the configured policy: never resolves, never touches a socket.
// Entry points, in the order delivery uses them: plan_mx(), plan_addresses(),
// tlsa_names(), plan_host(). A Failure says what to report when a domain or a
// host cannot be used: the RFC 3463 code and Postfix's text (SPEC §6).
#pragma once

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "conf/config.hpp"
#include "dane/dns.hpp"

namespace dr::dane {

struct Failure {
    bool permanent = false;
    std::string dsn;     // "4.4.3"
    std::string reason;  // Postfix's text
};

// What one host requires of the TLS layer (Postfix's levels for one host).
enum class TlsRequirement { none, may, encrypt, verify, dane };
const char* to_string(TlsRequirement r);

// ---- Step 1: the MX RRset ------------------------------------------------

struct MxHost {
    std::string name;
    std::uint16_t preference = 0;
};

struct MxPlan {
    std::optional<Failure> failure;  // set: no host at all (bounce or defer)
    std::vector<MxHost> hosts;       // preference order, shuffled among equals
    Security mx_security = Security::failure;
    bool implicit = false;           // no MX RRset: the domain is its own host
    std::vector<std::string> notes;  // e.g. skipped malformed MX targets
};

// `policy` is the domain's level (dane-only fails an insecure MX RRset).
MxPlan plan_mx(const std::string& domain, const Lookup<MxRecord>& mx, conf::TlsLevel policy,
               std::mt19937& rng);

// ---- Step 2: a host's addresses -------------------------------------------

struct AddressPlan {
    std::optional<Failure> failure;  // set: do not use this host
    std::vector<IpAddress> addresses;
    Security security = Security::failure;  // secure only when every answer was
    std::string canonical;  // CNAME-expanded name when the chain is secure, else the host
};

AddressPlan plan_addresses(const std::string& host, const Lookup<IpAddress>& a,
                           const Lookup<IpAddress>& aaaa);

// ---- Step 3: TLSA ---------------------------------------------------------

struct DomainContext {
    std::string domain;  // the recipient (next-hop) domain
    conf::TlsLevel level = conf::TlsLevel::dane;
    conf::TlsLevel insecure_mx_policy = conf::TlsLevel::dane;
    Security mx_security = Security::secure;
    std::uint16_t port = 25;
};

// The names whose TLSA RRsets must be looked up for this host, best first
// (RFC 7672 §2.2.2: the CNAME-expanded name, then the original one); empty
// when the policy needs no TLSA (no DANE, or the addresses are insecure).
std::vector<std::string> tlsa_names(const DomainContext& ctx, const std::string& host,
                                    const AddressPlan& addrs);

struct TlsaCandidate {
    std::string base;  // TLSA base domain (the name under _25._tcp.)
    Lookup<TlsaRecord> lookup;
};

struct HostPlan {
    std::string host;
    std::optional<Failure> failure;  // set: skip this host
    std::vector<IpAddress> addresses;
    TlsRequirement tls = TlsRequirement::may;
    bool half_dane = false;  // DANE via an insecure MX RRset: "Trusted", not "Verified"
    // An MTA-STS policy in enforce mode decided: the level (verify), or the failure (the host
    // is not in the policy). sts_plan.hpp.
    bool sts = false;
    std::string tlsa_base;                 // SNI and first reference identifier (DANE)
    std::vector<TlsaRecord> tlsa;          // the usable records (DANE)
    std::vector<std::string> match_names;  // names a DANE-TA or PKIX leaf may carry
    std::vector<std::string> notes;        // informational, logged as Postfix does
    Security address_security = Security::failure;
    std::optional<Security> tlsa_security;  // when TLSA was looked up
};

// `tlsa` holds the lookups for tlsa_names(), in the same order.
HostPlan plan_host(const DomainContext& ctx, const std::string& host, const AddressPlan& addrs,
                   const std::vector<TlsaCandidate>& tlsa);

// The failure texts of SPEC §6, in one place.
namespace failures {
Failure dns(const std::string& name, const char* type, const Lookup<MxRecord>& l);
Failure dns_address(const std::string& name, const char* type, bool permanent);
Failure null_mx(const std::string& domain);
Failure tlsa_error(const std::string& host, std::uint16_t port);
Failure not_dnssec();
Failure no_tlsa();
}  // namespace failures

}  // namespace dr::dane
