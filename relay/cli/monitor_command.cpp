// Arguments, the --cert file and the event loop of `dane-relay monitor` (see
// monitor_command.hpp); the judgement itself is relay/cli/monitor.hpp.
#include "relay/cli/monitor_command.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "dane/tlsa_make.hpp"
#include "relay/cli/check.hpp"
#include "relay/cli/check_pool.hpp"
#include "relay/cli/monitor.hpp"
#include "relay/cli/options.hpp"
#include "relay/spool/unix_time.hpp"

namespace dr::relay {
namespace {

constexpr const char* kUsage =
    "usage: dane-relay monitor [options] DOMAIN...\n"
    "\n"
    "A Nagios/Icinga plugin: checks each domain's DNSSEC and DANE set-up and probes every\n"
    "MX host and address (RSA and ECDSA certificates separately when a server has both).\n"
    "The first line is \"DANE OK|WARNING|CRITICAL|UNKNOWN - summary | perfdata\", the\n"
    "findings follow, one a line.\n"
    "\n"
    "CRITICAL: what makes DANE senders defer now: DNSSEC bogus or failing, no DNSSEC,\n"
    "TLSA missing or unusable or unsigned, a live certificate matching no TLSA record,\n"
    "DANE-TA chain or name failures, no STARTTLS, an MX host (of one or several) failing.\n"
    "WARNING: what breaks soon: TLSA records matching no live certificate, TLSA RRSIGs or\n"
    "DANE-TA chain certificates about to expire, half-DANE (unsigned MX, signed TLSA),\n"
    "and a --cert renewal that would match none of the published records.\n"
    "\n"
    "options:\n"
    "  --cert FILE            a renewed certificate or fullchain.pem (leaf first), not yet\n"
    "                         deployed: WARNING \"this renewal would break DANE for MX\"\n"
    "                         for every DANE host that would not accept it (verified as in\n"
    "                         a handshake: DANE-TA needs the chain to the TA and the name)\n"
    "  --sig-warn DAYS        warn when a TLSA RRSIG expires within DAYS (default 7)\n"
    "  --cert-warn DAYS       warn when a DANE-TA chain certificate expires within DAYS\n"
    "                         (default 30)\n"
    "  --json                 one JSON document on stdout (status, exit, line, findings,\n"
    "                         and each domain's check report)\n"
    "  -c, --config FILE      configuration file (policy table, [dns] settings)\n"
    "  --unbound-conf FILE    unbound.conf for the resolver (overrides [dns] unbound_conf)\n"
    "  --port N               SMTP port (default 25)\n"
    "  --helo NAME            EHLO name (default: [server] hostname or localhost)\n"
    "\n"
    "exit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage, unreadable --cert,\n"
    "a resolver that cannot validate)\n";

struct Args {
    std::string unbound_conf, helo, cert;
    bool json = false;
    unsigned port = 25;
    double sig_warn = 7, cert_warn = 30;
    std::vector<std::string> domains;
};

bool parse_days(const char* s, double& out) {
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(s, &end);
    if (!*s || *end || errno || !(v >= 0 && v <= 36500)) return false;
    out = v;
    return true;
}

// One "--name VALUE" option; an error text or "".
std::string take_value(std::string_view name, const char* v, Args& a) {
    if (!v) return "missing value after " + std::string(name);
    if (name == "--cert") {
        if (!*v) return "--cert needs a file name";
        a.cert = v;
    } else if (name == "--sig-warn" || name == "--cert-warn") {
        if (!parse_days(v, name == "--sig-warn" ? a.sig_warn : a.cert_warn))
            return std::string(name) + " needs a number of days from 0 to 36500";
    } else if (name == "--unbound-conf") {
        a.unbound_conf = v;
    } else if (name == "--helo") {
        if (!*v) return "--helo needs a name";
        a.helo = v;
    } else if (name == "--port") {
        char* end = nullptr;
        unsigned long p = std::strtoul(v, &end, 10);
        if (!*v || *end || p == 0 || p > 65535) return "--port needs a port number";
        a.port = static_cast<unsigned>(p);
    }
    return "";
}

std::string parse_args(const std::vector<std::string>& args, Args& a) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (arg == "--json") {
            a.json = true;
        } else if (arg == "--cert" || arg == "--sig-warn" || arg == "--cert-warn" ||
                   arg == "--unbound-conf" || arg == "--helo" || arg == "--port") {
            const char* v = i + 1 < args.size() ? args[++i].c_str() : nullptr;
            if (auto e = take_value(arg, v, a); !e.empty()) return e;
        } else if (arg.starts_with("-")) {
            return "unknown option " + std::string(arg);
        } else {
            if (auto why = dane::domain_name_error(arg)) return *why;
            a.domains.emplace_back(arg);
        }
    }
    return a.domains.empty() ? "no domain given" : "";
}

// The renewed chain of --cert, or nullopt with `error` set. A chain is small: more than
// 1 MiB is not one.
std::optional<std::vector<PeerCert>> load_renewal(const std::string& file, std::string& error) {
    std::FILE* f = std::fopen(file.c_str(), "rb");
    if (!f) {
        error = file + ": " + std::strerror(errno);
        return std::nullopt;
    }
    std::string text;
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && text.size() <= (1u << 20))
        text.append(buf, n);
    bool failed = std::ferror(f);
    int saved = errno;
    std::fclose(f);
    if (failed) error = file + ": " + std::strerror(saved);
    if (!failed && text.size() > (1u << 20)) error = file + ": too large for a certificate chain";
    if (!error.empty()) return std::nullopt;
    auto pem = dane::read_pem(text);
    if (!pem.error.empty()) error = file + ": " + pem.error;
    if (error.empty() && pem.certs.empty())
        error = file +
                ": holds a key, not a certificate (give the renewed certificate or "
                "fullchain.pem)";
    std::vector<PeerCert> chain;
    for (const auto& c : pem.certs) {
        auto pc = peer_cert_of(c.der);
        if (!pc && error.empty()) error = file + ": a certificate does not decode";
        if (pc) chain.push_back(std::move(*pc));
    }
    if (!error.empty()) return std::nullopt;
    return chain;
}

// UNKNOWN (3): usage or internal trouble, in the plugin's format.
int unknown(const Args& a, const std::string& why) {
    std::string line = "DANE UNKNOWN - " + why;
    if (a.json)
        std::cout << boost::json::serialize(boost::json::object{
                         {"status", "UNKNOWN"}, {"exit", 3}, {"line", line}, {"error", why}})
                  << "\n";
    else
        std::cout << line << "\n";
    return 3;
}

int report(const Args& a, const MonitorOptions& mo, const std::vector<DomainReport>& reports) {
    std::vector<Judgement> js;
    for (const auto& r : reports) js.push_back(judge(r, mo));
    auto out = plugin_output(js, mo);
    if (a.json) {
        std::cout << boost::json::serialize(monitor_json(js, mo, reports)) << "\n";
    } else {
        std::cout << out.first_line << "\n";
        for (const auto& d : out.details) std::cout << d << "\n";
    }
    return static_cast<int>(out.severity);
}

}  // namespace

int run_monitor(std::vector<std::string> argv) {
    if (wants_help(argv)) {
        std::cout << kUsage;
        return 0;
    }
    Args a;
    for (const auto& s : argv) a.json |= s == "--json";
    auto choice = take_config_option(argv);
    if (!choice.error.empty()) return unknown(a, choice.error);
    if (auto e = parse_args(argv, a); !e.empty())
        return unknown(a, e + " (see dane-relay monitor --help)");
    MonitorOptions mo;
    mo.sig_warn_days = a.sig_warn;
    mo.cert_warn_days = a.cert_warn;
    mo.now = unix_seconds();
    if (!a.cert.empty()) {
        std::string error;
        mo.renewal = load_renewal(a.cert, error);
        if (!mo.renewal) return unknown(a, "--cert " + error);
        mo.renewal_name = a.cert;
    }
    auto loaded = load_choice(choice);
    if (!loaded.error.empty()) return unknown(a, loaded.error);
    conf::Config& cfg = loaded.config;
    if (!a.unbound_conf.empty()) cfg.dns.unbound_conf = a.unbound_conf;

    asio::io_context io;
    ProbeContexts tls;
    if (auto e = tls.init(cfg.tls.ca_file)) return unknown(a, *e);
    std::optional<dane::Resolver> resolver;
    try {
        resolver.emplace(io.get_executor(), cfg.dns);
    } catch (const dane::ResolverError& e) {
        return unknown(a, e.what());
    }
    // Every domain at once: a plugin checks a few, and its run should not take longer.
    CheckPool pool{*resolver, cfg.policy, tls.any, {}, 0, {}, {}, {}};
    pool.concurrency = static_cast<unsigned>(a.domains.size());
    pool.options.helo_name = !a.helo.empty()                ? a.helo
                             : !cfg.server.hostname.empty() ? cfg.server.hostname
                                                            : "localhost";
    pool.options.port = static_cast<std::uint16_t>(a.port);
    pool.options.every_address = true;
    tls.use_in(pool.options);
    asio::thread_pool sts_pool(2);
    StsPolicies sts(*resolver, sts_pool, "", sts_fetch_options(cfg));
    if (cfg.sts.enabled) pool.options.sts = &sts;
    std::vector<DomainReport> reports(a.domains.size());
    pool.next = each_of(a.domains);
    pool.done = [&](const CheckJob& job, DomainReport r) { reports[job.index] = std::move(r); };
    start_checks(io.get_executor(), pool);
    io.run();
    if (!pool.error.empty()) return unknown(a, pool.error);
    return report(a, mo, reports);
}

}  // namespace dr::relay
