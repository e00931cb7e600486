// Argument handling and concurrency for `dane-relay check` (see check.hpp).
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <iostream>

#include "relay/cli/check.hpp"
#include "relay/cli/check_pool.hpp"
#include "relay/cli/options.hpp"
#include "relay/cli/survey_command.hpp"

namespace dr::relay {

namespace {

constexpr const char* kCheckUsage =
    "usage: dane-relay check [options] DOMAIN...\n"
    "       dane-relay check [options] --survey FILE [--out FILE.jsonl]\n"
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
    "  --concurrency N        domains checked at once (default 64; 32 with --survey)\n"
    "  --port N               SMTP port to check (default 25)\n"
    "  --helo NAME            EHLO name (default: [server] hostname or localhost)\n"
    "  --no-connect           DNS evidence only: no SMTP connection (the verdict\n"
    "                         then says what the plan allows, without the peer)\n"
    "\n"
    "survey (a list of domains, SPEC section 11):\n"
    "  --survey FILE          check every domain of FILE (one a line; blank lines and\n"
    "                         # comments skipped; junk lines counted as bad, not fatal);\n"
    "                         one JSON line per domain, then the tally by verdict:\n"
    "                         dane-verified, dane-trusted, dane-failing, dnssec-no-dane,\n"
    "                         no-dnssec, dns-failure, no-mail, unreachable\n"
    "  --out FILE.jsonl       append the JSON lines to FILE (flushed per line) and print\n"
    "                         the tally on stdout; domains already in FILE are skipped,\n"
    "                         so a killed survey resumes where it stopped. Without\n"
    "                         --out the lines go to stdout and the tally to stderr\n"
    "  --json                 with --survey: the tally as one JSON object\n"
    "  survey exit status: 0 the survey ran (whatever the verdicts), 1 it stopped early\n"
    "  (the output cannot be written, FILE cannot be read), 2 usage or start-up error\n"
    "  (FILE or --out cannot be opened, a resolver that cannot validate)\n"
    "\n"
    "exit status: 0 delivery would succeed for every domain, 1 some would be\n"
    "deferred or bounced, 2 usage or start-up error\n";

struct Args {
    std::string unbound_conf, helo;
    bool json = false;
    bool connect = true;
    unsigned concurrency = 0;  // 0: the default (64, or kSurveyConcurrency for a survey)
    unsigned port = 25;
    std::vector<std::string> domains;
    std::string survey, out;  // --survey FILE, --out FILE
};

SurveyArgs survey_args(const Args& a) {
    return SurveyArgs{a.survey, a.out, a.json};
}

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
        } else if (arg == "--survey" || arg == "--out") {
            const char* v = value();
            if (!v || !*v) return "missing file after " + std::string(arg);
            (arg == "--survey" ? a.survey : a.out) = v;
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
    if (!a.survey.empty() && !a.domains.empty()) return "--survey FILE or DOMAIN..., not both";
    if (!a.out.empty() && a.survey.empty()) return "--out is for --survey";
    if (a.domains.empty() && a.survey.empty()) return "no domain given";
    // A survey's default is lower: see kSurveyConcurrency (survey_command.hpp).
    if (!a.concurrency) a.concurrency = a.survey.empty() ? 64 : kSurveyConcurrency;
    return {};
}

// Prints the text reports in argument order as they become ready, and the progress line.
struct Printer {
    const Args& args;
    std::vector<std::optional<DomainReport>> reports;
    std::size_t done = 0, printed = 0;
    bool progress = false;

    void take(std::size_t i, DomainReport r) {
        reports[i] = std::move(r);
        ++done;
        while (!args.json && printed < reports.size() && reports[printed]) {
            if (progress) std::fputs("\r\033[K", stderr);
            std::fputs(render_text(*reports[printed]).c_str(), stdout);
            std::fflush(stdout);
            ++printed;
        }
        if (progress) std::fprintf(stderr, "\rchecked %zu/%zu", done, reports.size());
    }
};

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
    if (auto e = tls.init(cfg.tls.ca_file)) {
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
    CheckPool pool{*resolver, cfg.policy, tls.any, {}, args.concurrency, {}, {}, {}};
    tls.use_in(pool.options);
    pool.options.helo_name = !args.helo.empty()             ? args.helo
                             : !cfg.server.hostname.empty() ? cfg.server.hostname
                                                            : "localhost";
    pool.options.port = static_cast<std::uint16_t>(args.port);
    pool.options.connect = args.connect;
    // A survey is about DANE: it fetches no MTA-STS policies (one HTTPS fetch per domain).
    if (!args.survey.empty()) return run_survey(survey_args(args), io, pool);
    asio::thread_pool sts_pool(2);
    StsPolicies sts(*resolver, sts_pool, "", sts_fetch_options(cfg));
    if (cfg.sts.enabled) pool.options.sts = &sts;

    Printer run{args, {}};
    run.reports.resize(args.domains.size());
    run.progress = !args.json && args.domains.size() > 1 && isatty(STDERR_FILENO);
    pool.next = each_of(args.domains);
    pool.done = [&](const CheckJob& job, DomainReport r) { run.take(job.index, std::move(r)); };
    start_checks(io.get_executor(), pool);
    io.run();
    if (!pool.error.empty()) {
        std::fprintf(stderr, "dane-relay check: %s\n", pool.error.c_str());
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
