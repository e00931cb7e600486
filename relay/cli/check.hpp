// `dane-relay check DOMAIN...` (SPEC §9): for each domain the DNSSEC
// evidence (MX, addresses, TLSA), a live STARTTLS probe of the hosts with
// the DANE verdict as Postfix would log it, and what delivery would do.
// Entry points: check_domain() (one domain, awaitable), render_text(),
// to_json(), run_check() (the subcommand). DNS and TLS problems are results,
// not errors; run_check() returns the process exit status (0, 1 or 2).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dane/destination.hpp"
#include "dane/verify.hpp"
#include "smtp/delivery_status.hpp"

namespace dr::relay {

namespace asio = boost::asio;

struct Connection {
    std::string address;
    std::uint16_t port = 25;
    smtp::DeliveryStatus status;
    std::string banner;
    bool starttls_offered = false;
    std::optional<dane::TlsOutcome> tls;
    std::vector<std::string> log;  // the lines Postfix would log
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
    std::vector<HostCheck> hosts;  // parallel to destination.hosts
    Verdict verdict;
};

struct CheckOptions {
    std::string helo_name = "localhost";
    bool connect = true;
    std::uint16_t port = 25;  // SMTP port: connections and _<port>._tcp TLSA names
};

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
