// `dane-relay check DOMAIN...` (SPEC §9): for each domain the DNSSEC
// evidence (MX, addresses, TLSA), a live STARTTLS probe of the hosts with
// the DANE verdict as Postfix would log it, and what delivery would do.
// Entry points: check_domain() (one domain, awaitable), render_text(),
// to_json(), run_check() (the subcommand). DNS and TLS problems are results,
// not errors; run_check() returns the process exit status (0, 1 or 2).
// A server with both an RSA and an ECDSA certificate is probed once more,
// offering only the signature algorithms of the key type the first handshake
// did not get (restrict_key_type()), so that both certificates are judged.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dane/destination.hpp"
#include "dane/tlsa_make.hpp"
#include "dane/verify.hpp"
#include "relay/queue/sts_policies.hpp"
#include "smtp/delivery_status.hpp"

namespace dr::relay {

namespace asio = boost::asio;

// One certificate the server sent.
struct PeerCert {
    dane::Der der;               // the certificate (TLSA selector 0)
    dane::Der spki;              // its SubjectPublicKeyInfo (selector 1)
    std::int64_t not_after = 0;  // Unix time
};

// The certificate's DER decoded; nullopt when it does not decode.
std::optional<PeerCert> peer_cert_of(const dane::Der& der);

// Whether `r` matches `chain` (leaf first): DANE-EE(3) the leaf, DANE-TA(2) a certificate
// after the leaf (the leaf too when it is alone); usages 0 and 1 never (RFC 7672 §3.1.3).
// Only the data is compared: DANE-TA's chain signatures and names are not checked here.
bool tlsa_matches(const dane::TlsaRecord& r, const std::vector<PeerCert>& chain);

enum class KeyType { any, rsa, ecdsa };
const char* to_string(KeyType k);  // "", "RSA", "ECDSA"

// Limits a client context to the signature algorithms (TLS 1.3 and 1.2) and the TLS 1.2
// cipher suites of one key type, so that a server holding both certificates presents that one.
bool restrict_key_type(SSL_CTX* ctx, KeyType k);

struct Connection {
    std::string address;
    std::uint16_t port = 25;
    smtp::DeliveryStatus status;
    std::string banner;
    bool starttls_offered = false;
    std::optional<dane::TlsOutcome> tls;
    std::vector<std::string> log;  // the lines Postfix would log
    std::string key_type;          // of the leaf: "RSA", "ECDSA", "Ed25519", "" (none)
    std::vector<PeerCert> chain;   // as sent, leaf first (when a handshake completed)
    // The second handshake, restricted to the key type the first did not get (KeyType):
    // `offered` false when the server has no such certificate (the handshake failed).
    KeyType restricted = KeyType::any;
    bool offered = true;
    std::vector<Connection> other_keys;
};

struct HostCheck {
    std::vector<Connection> connections;
};

// What delivery would do with this domain now.
struct Verdict {
    enum class Action { deliver, defer, bounce } action = Action::defer;
    std::string dsn;
    std::string reason;
    std::string host = {}, address = {};  // deliver: where
    dane::TlsTrust trust = dane::TlsTrust::anonymous;
    bool tls = false;
};

struct DomainReport {
    std::string domain;
    dane::Destination destination;
    // The MTA-STS policy as found (RFC 8461), applied to `destination` (dane/sts_plan.hpp);
    // unset when not looked up (CheckOptions::sts unset, or no host without DANE).
    std::optional<StsFound> sts;
    std::vector<HostCheck> hosts;  // parallel to destination.hosts
    Verdict verdict;
};

struct CheckOptions {
    std::string helo_name = "localhost";
    bool connect = true;
    std::uint16_t port = 25;     // SMTP port: connections and _<port>._tcp TLSA names
    bool every_address = false;  // probe every address, not only up to the first that works
    // Set: contexts restricted to one key type (restrict_key_type()) for the second probe.
    asio::ssl::context* rsa_tls = nullptr;
    asio::ssl::context* ecdsa_tls = nullptr;
    // Set: MTA-STS applies as in delivery ([sts] enabled; policies kept in memory only).
    StsPolicies* sts = nullptr;
};

// The client contexts of a probe: the default (what delivery offers) and one per key type.
struct ProbeContexts {
    asio::ssl::context any{asio::ssl::context::tls_client};
    asio::ssl::context rsa{asio::ssl::context::tls_client};
    asio::ssl::context ecdsa{asio::ssl::context::tls_client};
    // PKIX roots (`ca_file`, as [tls] ca_file, else the system's), DANE support, the key type
    // restrictions; an error text when OpenSSL refuses.
    std::optional<std::string> init(const std::string& ca_file = "");
    void use_in(CheckOptions& o) {
        o.rsa_tls = &rsa;
        o.ecdsa_tls = &ecdsa;
    }
};

// The MTA-STS fetch options of the configuration (its [tls] ca_file), as the daemon uses.
dane::StsFetchOptions sts_fetch_options(const conf::Config& cfg);

asio::awaitable<DomainReport> check_domain(dane::Resolver& resolver,
                                           const conf::PolicyConfig& policy,
                                           asio::ssl::context& tls, const CheckOptions& options,
                                           std::string domain, std::uint32_t seed);

// What delivery would do, from the plans and the probes (pure; hosts parallel to d.hosts).
Verdict verdict_of(const dane::Destination& d, const std::vector<HostCheck>& hosts);

std::string render_text(const DomainReport& r);
boost::json::value to_json(const DomainReport& r);
const char* to_string(Verdict::Action a);

int run_check(std::vector<std::string> args);

}  // namespace dr::relay
