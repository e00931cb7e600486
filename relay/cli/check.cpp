#include "relay/cli/check.hpp"

#include <openssl/x509.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <ctime>
#include <memory>

#include "dane/sts_plan.hpp"
#include "dane/tlsa.hpp"
#include "relay/log/evidence.hpp"
#include "relay/queue/connect.hpp"
#include "relay/queue/trouble.hpp"
#include "smtp/peer_name.hpp"

namespace dr::relay {

namespace json = boost::json;
using dane::TlsRequirement;

const char* to_string(Verdict::Action a) {
    switch (a) {
        case Verdict::Action::deliver:
            return "deliver";
        case Verdict::Action::defer:
            return "defer";
        case Verdict::Action::bounce:
            return "bounce";
    }
    return "?";
}

// ---- certificates ------------------------------------------------------------

namespace {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

dane::Der to_der(X509* x) {
    unsigned char* buf = nullptr;
    int n = i2d_X509(x, &buf);
    if (n <= 0) return {};
    dane::Der der(buf, buf + n);
    OPENSSL_free(buf);
    return der;
}

std::optional<PeerCert> peer_cert_of(X509* x) {
    PeerCert c;
    c.der = to_der(x);
    unsigned char* buf = nullptr;
    int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &buf);
    if (c.der.empty() || n <= 0) return std::nullopt;
    c.spki.assign(buf, buf + n);
    OPENSSL_free(buf);
    std::tm tm{};
    if (!ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm)) return std::nullopt;
    c.not_after = timegm(&tm);
    return c;
}

std::string key_type_of(X509* x) {
    switch (EVP_PKEY_get_base_id(X509_get0_pubkey(x))) {
        case EVP_PKEY_RSA:
        case EVP_PKEY_RSA_PSS:
            return "RSA";
        case EVP_PKEY_EC:
            return "ECDSA";
        case EVP_PKEY_ED25519:
            return "Ed25519";
        case EVP_PKEY_ED448:
            return "Ed448";
    }
    return "other";
}

// The chain the server sent, after a completed handshake (the SSL outlives a closed session).
void take_chain(SSL* ssl, Connection& c) {
    STACK_OF(X509)* chain = ssl ? SSL_get_peer_cert_chain(ssl) : nullptr;
    if (!chain) return;
    for (int i = 0; i < sk_X509_num(chain); ++i) {
        X509* x = sk_X509_value(chain, i);
        if (i == 0) c.key_type = key_type_of(x);
        if (auto pc = peer_cert_of(x)) c.chain.push_back(std::move(*pc));
    }
}

}  // namespace

std::optional<PeerCert> peer_cert_of(const dane::Der& der) {
    const unsigned char* p = der.data();
    X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())), X509_free);
    if (!x) return std::nullopt;
    return peer_cert_of(x.get());
}

bool tlsa_matches(const dane::TlsaRecord& r, const std::vector<PeerCert>& chain) {
    if (r.usage != 2 && r.usage != 3) return false;
    for (std::size_t i = 0; i < chain.size(); ++i) {
        if (r.usage == 3 && i > 0) break;
        if (r.usage == 2 && i == 0 && chain.size() > 1) continue;
        const auto& selected = r.selector == 0 ? chain[i].der : chain[i].spki;
        if (r.selector > 1) continue;
        if (auto m = dane::tlsa_match_data(selected, r.mtype); !m.empty() && m == r.data)
            return true;
    }
    return false;
}

const char* to_string(KeyType k) {
    switch (k) {
        case KeyType::any:
            return "";
        case KeyType::rsa:
            return "RSA";
        case KeyType::ecdsa:
            return "ECDSA";
    }
    return "?";
}

bool restrict_key_type(SSL_CTX* ctx, KeyType k) {
    if (k == KeyType::any) return true;
    const char* sigalgs = k == KeyType::rsa
                              ? "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"
                                "rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:"
                                "RSA+SHA256:RSA+SHA384:RSA+SHA512"
                              : "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512";
    const char* ciphers = k == KeyType::rsa ? "HIGH:!aNULL:!aECDSA" : "HIGH:!aNULL:!aRSA";
    return SSL_CTX_set1_sigalgs_list(ctx, sigalgs) == 1 &&
           SSL_CTX_set_cipher_list(ctx, ciphers) == 1;
}

std::optional<std::string> ProbeContexts::init(const std::string& ca_file) {
    for (auto* c : {&any, &rsa, &ecdsa}) {
        // PKIX, for the "verify" policy level and MTA-STS only
        boost::system::error_code ec;
        if (ca_file.empty())
            c->set_default_verify_paths();
        else if (c->load_verify_file(ca_file, ec); ec)
            return "cannot load tls.ca_file " + ca_file + ": " + ec.message();
        if (!dane::enable_dane(c->native_handle())) return "OpenSSL has no DANE support";
    }
    if (!restrict_key_type(rsa.native_handle(), KeyType::rsa) ||
        !restrict_key_type(ecdsa.native_handle(), KeyType::ecdsa))
        return "OpenSSL refused the RSA or ECDSA signature algorithm lists";
    return std::nullopt;
}

namespace {

asio::awaitable<Connection> probe_address(const dane::HostPlan& plan, const dane::IpAddress& ip,
                                          std::uint16_t port, asio::ssl::context& tls,
                                          const CheckOptions& options) {
    ConnectOptions co;
    co.helo_name = options.helo_name;
    co.timeouts.cap(std::chrono::seconds(30));  // an interactive check need not wait 5 minutes
    auto hc = co_await connect_host(plan, ip, port, tls, co);
    Connection c;
    c.address = hc.address;
    c.port = port;
    c.status = hc.status;
    c.banner = hc.session->greeting().text();
    c.starttls_offered = hc.session->starttls_offered();
    c.tls = std::move(hc.tls);
    c.log = std::move(hc.log);
    if (c.tls) take_chain(hc.session->ssl(), c);
    if (c.status.ok())
        co_await hc.session->quit();
    else
        c.log.push_back(hc.relay + ": " + c.status.dsn + " " + c.status.reason);
    co_return c;
}

// The default probe and, when it got a certificate, the one restricted to the other key type.
asio::awaitable<Connection> probe_keys(const dane::HostPlan& plan, const dane::IpAddress& ip,
                                       std::uint16_t port, asio::ssl::context& tls,
                                       const CheckOptions& options) {
    Connection c = co_await probe_address(plan, ip, port, tls, options);
    KeyType other = c.key_type == "RSA"     ? KeyType::ecdsa
                    : c.key_type == "ECDSA" ? KeyType::rsa
                                            : KeyType::any;
    auto* ctx = other == KeyType::rsa ? options.rsa_tls : options.ecdsa_tls;
    if (other == KeyType::any || !ctx) co_return c;
    Connection o = co_await probe_address(plan, ip, port, *ctx, options);
    o.restricted = other;
    o.offered = o.key_type == to_string(other);
    c.other_keys.push_back(std::move(o));
    co_return c;
}

}  // namespace

// The first host that works decides; otherwise the failure policy of delivery
// (relay/queue/trouble.hpp) says which failure stands and whether it bounces.
Verdict verdict_of(const dane::Destination& d, const std::vector<HostCheck>& hosts) {
    auto from = [](const smtp::DeliveryStatus& s) {
        return Verdict{s.permanent() ? Verdict::Action::bounce : Verdict::Action::defer, s.dsn,
                       s.reason};
    };
    if (d.mx_plan.failure) return from(to_status(*d.mx_plan.failure));
    AttemptTrouble trouble;
    for (std::size_t i = 0; i < d.hosts.size(); ++i) {
        const auto& plan = d.hosts[i].plan;
        if (plan.failure) {
            trouble.note(*plan.failure);
            continue;
        }
        if (i >= hosts.size()) continue;
        for (const auto& c : hosts[i].connections) {
            if (!c.status.ok()) {
                trouble.note(c.status, c.address);
                continue;
            }
            Verdict v{Verdict::Action::deliver, "2.0.0", "", plan.host, c.address};
            v.tls = c.tls.has_value();
            if (c.tls) v.trust = c.tls->trust;
            return v;
        }
    }
    return from(trouble.verdict());
}

dane::StsFetchOptions sts_fetch_options(const conf::Config& cfg) {
    dane::StsFetchOptions o;
    o.ca_file = cfg.tls.ca_file;
    return o;
}

asio::awaitable<DomainReport> check_domain(dane::Resolver& resolver,
                                           const conf::PolicyConfig& policy,
                                           asio::ssl::context& tls, const CheckOptions& options,
                                           std::string domain, std::uint32_t seed) {
    DomainReport r;
    r.domain = dane::normalize_name(domain);
    std::mt19937 rng(seed);
    r.destination =
        co_await dane::resolve_destination(resolver, r.domain, policy, rng, options.port);
    if (options.sts && dane::sts_wanted(r.destination)) {
        r.sts = co_await options.sts->find(r.domain);
        if (r.sts->policy) dane::apply_sts(r.destination, *r.sts->policy);
    }
    const auto& d = r.destination;
    r.hosts.resize(d.hosts.size());
    if (options.connect) {
        for (std::size_t i = 0; i < d.hosts.size(); ++i) {
            const auto& plan = d.hosts[i].plan;
            if (plan.failure) continue;
            for (const auto& ip : plan.addresses) {
                r.hosts[i].connections.push_back(
                    co_await probe_keys(plan, ip, d.context.port, tls, options));
                if (!options.every_address && r.hosts[i].connections.back().status.ok()) break;
            }
        }
    }
    r.verdict = verdict_of(r.destination, r.hosts);
    co_return r;
}

// ---- text ----------------------------------------------------------------

namespace {

std::string addresses_text(const dane::Lookup<dane::IpAddress>& l, const char* type) {
    std::string s = std::string(type) + " " + dane::to_string(l.security);
    if (l.outcome != dane::Outcome::found)
        s += " (" + std::string(dane::to_string(l.outcome)) + ")";
    // Appended: "..." + std::string gives a false -Wrestrict at -O3 (GCC 12, bug 105329).
    for (const auto& ip : l.records) s.append(" ").append(ip.to_string());
    if (!l.why.empty()) s += " [" + l.why + "]";
    return s;
}

void host_text(std::string& out, const dane::HostResult& h, const HostCheck& hc,
               std::uint16_t port) {
    out += "  host " + h.mx.name + " (preference " + std::to_string(h.mx.preference) + ")\n";
    out += "    " + addresses_text(h.a, "A") + "; " + addresses_text(h.aaaa, "AAAA") + "\n";
    if (h.addresses.canonical != h.mx.name)
        out += "    CNAME-expanded name " + h.addresses.canonical + "\n";
    for (const auto& t : h.tlsa) {
        out += "    TLSA _" + std::to_string(port) + "._tcp." + t.base + ": " +
               dane::to_string(t.lookup.security) + " " + dane::to_string(t.lookup.outcome);
        if (!t.lookup.why.empty()) out += " [" + t.lookup.why + "]";
        out += "\n";
        for (const auto& rec : t.lookup.records) {
            auto u = dane::tlsa_usability(rec);
            out += "      " + rec.to_string() + (u.usable ? "  usable" : "  unusable: " + u.why) +
                   "\n";
        }
        if (t.lookup.malformed)
            out += "      " + std::to_string(t.lookup.malformed) + " malformed record(s) ignored\n";
    }
    if (h.tlsa.empty() && h.plan.address_security != dane::Security::secure && !h.plan.failure)
        out += "    TLSA not looked up: address records are not secure\n";
    const auto& p = h.plan;
    if (p.failure) {
        out += "    not used: " + p.failure->dsn + " " + p.failure->reason + "\n";
        return;
    }
    out += "    TLS policy: " + std::string(dane::to_string(p.tls));
    if (p.half_dane) out += " (insecure MX: a match is only Trusted)";
    if (!p.tlsa_base.empty()) out += ", SNI " + p.tlsa_base;
    if (!p.match_names.empty()) {
        out += ", names";
        for (const auto& n : p.match_names) out += " " + n;
    }
    out += "\n";
    for (const auto& n : p.notes) out += "    " + n + "\n";
    for (const auto& c : hc.connections) {
        out += "    connect " + smtp::peer_name(h.mx.name, c.address, c.port) + ": " +
               (c.banner.empty() ? std::string("no banner") : c.banner) + "\n";
        out += std::string("      STARTTLS ") + (c.starttls_offered ? "offered" : "not offered") +
               "\n";
        for (const auto& l : c.log) out += "      " + l + "\n";
        for (const auto& o : c.other_keys) {
            out += std::string("      second handshake offering only ") + to_string(o.restricted) +
                   " signatures: ";
            if (!o.offered) {
                out += "no " + std::string(to_string(o.restricted)) + " certificate\n";
                continue;
            }
            out +=
                (o.status.ok() ? std::string("ok") : o.status.dsn + " " + o.status.reason) + "\n";
            for (const auto& l : o.log) out += "        " + l + "\n";
        }
    }
}

// "  MTA-STS: enforce, max_age 86400, mx mx.example.com (hosts without DANE)", or why none.
std::string sts_text(const StsFound& f) {
    std::string out = "  MTA-STS: ";
    if (f.policy) {
        out += std::string(dane::to_string(f.policy->mode)) + ", max_age " +
               std::to_string(f.policy->max_age) + ", mx";
        for (const auto& m : f.policy->mx) out += " " + m;
        out += " (applies to the hosts without DANE)";
    } else {
        out += "no policy";
        if (!f.why.empty()) out += " (" + f.why + ")";
    }
    out += "\n";
    if (!f.failure.empty())
        out += "    " + f.failure + ": " + f.why +
               (f.policy ? " (the cached policy applies)" : "") + "\n";
    return out;
}

}  // namespace

std::string render_text(const DomainReport& r) {
    const auto& d = r.destination;
    std::string out = r.domain + ": policy " + conf::to_string(d.policy.level);
    if (d.policy.nexthop) out += ", next hop " + d.policy.nexthop->to_string();
    out += "\n";
    if (d.mx) {
        out += "  MX " + std::string(dane::to_string(d.mx->security)) + " " +
               dane::to_string(d.mx->outcome);
        if (!d.mx->why.empty()) out += " [" + d.mx->why + "]";
        out += "\n";
        for (const auto& m : d.mx->records)
            out += "    " + std::to_string(m.preference) + " " + (m.host.empty() ? "." : m.host) +
                   "\n";
    }
    if (d.mx_plan.implicit) out += "  no MX records: the domain is its own mail host\n";
    for (const auto& n : d.mx_plan.notes) out += "  " + n + "\n";
    if (r.sts) out += sts_text(*r.sts);
    for (std::size_t i = 0; i < d.hosts.size(); ++i)
        host_text(out, d.hosts[i], r.hosts[i], d.context.port);
    const auto& v = r.verdict;
    out += "  result: " + std::string(to_string(v.action));
    if (v.action == Verdict::Action::deliver)
        out += " via " + smtp::peer_name(v.host, v.address, d.context.port) + " with " +
               (v.tls ? std::string(dane::to_string(v.trust)) + " TLS" : "no TLS");
    else
        out += " (dsn=" + v.dsn + ", " + v.reason + ")";
    out += "\n";
    return out;
}

// ---- JSON (schema: relay/cli/CHECK.md) -----------------------------------------

namespace {

json::value connection_json(const Connection& c) {
    json::array log;
    for (const auto& l : c.log) log.push_back(json::value(l));
    auto status = status_json(c.status);
    json::object o{{"address", c.address},        {"port", c.port},
                   {"banner", c.banner},          {"starttls_offered", c.starttls_offered},
                   {"status", std::move(status)}, {"tls", tls_json(c.tls)},
                   {"log", std::move(log)},       {"key_type", c.key_type}};
    if (c.restricted != KeyType::any) {
        o["restricted_to"] = to_string(c.restricted);
        o["offered"] = c.offered;
    } else {
        json::array others;
        for (const auto& k : c.other_keys) others.push_back(connection_json(k));
        o["other_keys"] = std::move(others);
    }
    return o;
}

json::value sts_json(const StsFound& f) {
    json::value policy = nullptr;
    if (f.policy) {
        json::array mx;
        for (const auto& m : f.policy->mx) mx.push_back(json::value(m));
        policy = json::object{{"mode", dane::to_string(f.policy->mode)},
                              {"max_age", f.policy->max_age},
                              {"mx", std::move(mx)}};
    }
    return json::object{{"policy", std::move(policy)}, {"failure", f.failure}, {"why", f.why}};
}

}  // namespace

json::value to_json(const DomainReport& r) {
    json::object out = destination_json(r.destination);
    auto& hosts = out["hosts"].as_array();
    for (std::size_t i = 0; i < hosts.size() && i < r.hosts.size(); ++i) {
        json::array conns;
        for (const auto& c : r.hosts[i].connections) conns.push_back(connection_json(c));
        hosts[i].as_object()["connections"] = std::move(conns);
    }
    const auto& v = r.verdict;
    json::object verdict{{"action", to_string(v.action)}, {"dsn", v.dsn}, {"reason", v.reason}};
    if (v.action == Verdict::Action::deliver) {
        verdict["host"] = v.host;
        verdict["address"] = v.address;
        verdict["tls"] = v.tls ? json::value(dane::to_string(v.trust)) : json::value(nullptr);
    }
    out["verdict"] = std::move(verdict);
    out["sts"] = r.sts ? sts_json(*r.sts) : json::value(nullptr);
    return out;
}

}  // namespace dr::relay
