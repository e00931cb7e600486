// Argument handling and concurrency for `dane-relay check` (see check.hpp).
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <iostream>
#include <random>

#include "relay/cli/check.hpp"
#include "relay/cli/options.hpp"

namespace dr::relay {

namespace {

constexpr const char* kCheckUsage =
    "usage: dane-relay check [options] DOMAIN...\n"
    "\n"
    "Looks up each domain's MX, address and TLSA records with DNSSEC, connects to\n"
    "its mail hosts (EHLO, STARTTLS) and prints the evidence, the TLS verdict as\n"
    "Postfix logs it, and what delivery would do.\n"
    "\n"
    "options:\n"
    "  -c, --config FILE      configuration file (policy table, [dns] settings; default\n"
    "                         /etc/dane-relay/dane-relay.toml when it exists)\n"
    "  --unbound-conf FILE    unbound.conf for the resolver (overrides [dns] unbound_conf)\n"
    "  --json                 one JSON document on stdout (schema: relay/cli/CHECK.md)\n"
    "  --concurrency N        domains checked at once (default 64)\n"
    "  --port N               SMTP port to check (default 25)\n"
    "  --helo NAME            EHLO name (default: [server] hostname or localhost)\n"
    "  --no-connect           DNS evidence only: no SMTP connection (the verdict\n"
    "                         then says what the plan allows, without the peer)\n"
    "\n"
    "exit status: 0 delivery would succeed for every domain, 1 some would be\n"
    "deferred or bounced, 2 usage or start-up error\n";

struct Args {
    std::string unbound_conf, helo;
    bool json = false;
    bool connect = true;
    unsigned concurrency = 64;
    unsigned port = 25;
    std::vector<std::string> domains;
};

bool parse_number(const char* s, unsigned lo, unsigned hi, unsigned& out) {
    char* end = nullptr;
    unsigned long v = std::strtoul(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return false;
    out = static_cast<unsigned>(v);
    return true;
}

// Returns an error text, or "" when the arguments are fine.
std::string parse_args(const std::vector<std::string>& args, Args& a) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        auto value = [&]() -> const char* {
            return i + 1 < args.size() ? args[++i].c_str() : nullptr;
        };
        if (arg == "--unbound-conf") {
            const char* v = value();
            if (!v) return "missing file after --unbound-conf";
            a.unbound_conf = v;
        } else if (arg == "--json") {
            a.json = true;
        } else if (arg == "--no-connect") {
            a.connect = false;
        } else if (arg == "--concurrency") {
            const char* v = value();
            if (!v || !parse_number(v, 1, 10000, a.concurrency))
                return "--concurrency needs a number from 1 to 10000";
        } else if (arg == "--port") {
            const char* v = value();
            if (!v || !parse_number(v, 1, 65535, a.port)) return "--port needs a port number";
        } else if (arg == "--helo") {
            const char* v = value();
            if (!v || !*v) return "missing name after --helo";
            a.helo = v;
        } else if (arg.starts_with("-")) {
            return "unknown option " + std::string(arg);
        } else {
            if (auto why = dane::domain_name_error(arg)) return *why;
            a.domains.emplace_back(arg);
        }
    }
    if (a.domains.empty()) return "no domain given";
    return {};
}

struct Run {
    const Args& args;
    dane::Resolver& resolver;
    const conf::PolicyConfig& policy;
    asio::ssl::context& tls;
    CheckOptions options;
    std::vector<std::optional<DomainReport>> reports;
    std::size_t next = 0, done = 0, printed = 0;
    bool progress = false;

    void print_ready() {
        while (!args.json && printed < reports.size() && reports[printed]) {
            if (progress) std::fputs("\r\033[K", stderr);
            std::fputs(render_text(*reports[printed]).c_str(), stdout);
            std::fflush(stdout);
            ++printed;
        }
        if (progress) std::fprintf(stderr, "\rchecked %zu/%zu", done, reports.size());
    }

    asio::awaitable<void> worker() {
        std::random_device rd;
        while (next < reports.size()) {
            std::size_t i = next++;
            reports[i] =
                co_await check_domain(resolver, policy, tls, options, args.domains[i], rd());
            ++done;
            print_ready();
        }
    }
};

asio::awaitable<void> validate_then(dane::Resolver& resolver, Run& run, std::string& error) {
    try {
        co_await resolver.ensure_validating();
    } catch (const dane::ResolverError& e) {
        error = e.what();
        co_return;
    }
    auto ex = co_await asio::this_coro::executor;
    for (unsigned i = 0; i < run.args.concurrency && i < run.reports.size(); ++i)
        asio::co_spawn(ex, run.worker(), asio::detached);
}

}  // namespace

int run_check(std::vector<std::string> argv) {
    Args args;
    if (wants_help(argv)) {
        std::fputs(kCheckUsage, stdout);
        return 0;
    }
    auto choice = take_config_option(argv);
    std::string err = choice.error.empty() ? parse_args(argv, args) : choice.error;
    if (!err.empty()) {
        std::fprintf(stderr, "dane-relay check: %s\n\n%s", err.c_str(), kCheckUsage);
        return 2;
    }
    auto loaded = load_choice(choice);
    if (!loaded.error.empty()) {
        std::fprintf(stderr, "dane-relay check: %s\n", loaded.error.c_str());
        return 2;
    }
    conf::Config& cfg = loaded.config;
    if (!args.unbound_conf.empty()) cfg.dns.unbound_conf = args.unbound_conf;

    asio::io_context io;
    ProbeContexts tls;
    if (auto e = tls.init()) {
        std::fprintf(stderr, "dane-relay check: %s\n", e->c_str());
        return 2;
    }
    std::optional<dane::Resolver> resolver;
    try {
        resolver.emplace(io.get_executor(), cfg.dns);
    } catch (const dane::ResolverError& e) {
        std::fprintf(stderr, "dane-relay check: %s\n", e.what());
        return 2;
    }
    Run run{args, *resolver, cfg.policy, tls.any, {}, {}};
    tls.use_in(run.options);
    run.options.helo_name = !args.helo.empty()             ? args.helo
                            : !cfg.server.hostname.empty() ? cfg.server.hostname
                                                           : "localhost";
    run.options.port = static_cast<std::uint16_t>(args.port);
    run.options.connect = args.connect;
    run.reports.resize(args.domains.size());
    run.progress = !args.json && args.domains.size() > 1 && isatty(STDERR_FILENO);
    std::string error;
    asio::co_spawn(io, validate_then(*resolver, run, error), asio::detached);
    io.run();
    if (!error.empty()) {
        std::fprintf(stderr, "dane-relay check: %s\n", error.c_str());
        return 2;
    }
    if (run.progress) std::fputs("\r\033[K", stderr);

    bool all_deliver = true;
    boost::json::array out;
    for (const auto& r : run.reports) {
        all_deliver &= r->verdict.action == Verdict::Action::deliver;
        if (args.json) out.push_back(to_json(*r));
    }
    if (args.json)
        std::cout << boost::json::serialize(boost::json::object{{"domains", std::move(out)}})
                  << "\n";
    return all_deliver ? 0 : 1;
}

}  // namespace dr::relay
