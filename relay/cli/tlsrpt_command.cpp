// `dane-relay tlsrpt show|send-now` (see tlsrpt_command.hpp).
#include "relay/cli/tlsrpt_command.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <iostream>

#include "relay/cli/control.hpp"
#include "relay/cli/options.hpp"
#include "relay/spool/unix_time.hpp"
#include "relay/tlsrpt/report_mail.hpp"
#include "relay/tlsrpt/reports.hpp"
#include "relay/tlsrpt/store.hpp"

namespace dr::relay {

namespace {

constexpr const char* kUsage =
    "usage: dane-relay tlsrpt show [-c FILE] [--day YYYY-MM-DD] [--json]\n"
    "       dane-relay tlsrpt send-now [-c FILE] [--day YYYY-MM-DD]\n";

std::string policy_text(const tlsrpt::PolicyKey& p) {
    std::string out = tlsrpt::to_string(p.type);
    if (!p.mx_hosts.empty()) {
        out += " (mx";
        for (const auto& m : p.mx_hosts) out += " " + m;
        out += ")";
    }
    if (p.type == tlsrpt::PolicyType::tlsa)
        out += " (" + std::to_string(p.strings.size()) + " record(s))";
    return out;
}

struct Args {
    bool send = false;  // send-now, else show
    std::string day;
    bool json = false;
    std::string error;
};

Args parse(const std::vector<std::string>& args) {
    Args a;
    if (args.empty() || (args[0] != "show" && args[0] != "send-now")) {
        a.error = "expected show or send-now";
        return a;
    }
    a.send = args[0] == "send-now";
    for (std::size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--json" && !a.send) {
            a.json = true;
        } else if (args[i] == "--day" && i + 1 < args.size()) {
            a.day = args[++i];
            if (!tlsrpt::Store::is_day(a.day)) a.error = "--day wants YYYY-MM-DD, not " + a.day;
        } else {
            a.error = "unknown argument " + args[i];
        }
    }
    return a;
}

// send-now: the daemon sends (it holds the queue the report mail goes through).
int send_now(const conf::Config& cfg, const Args& a) {
    std::vector<std::string> words{"tlsrpt", "send-now"};
    if (!a.day.empty()) words.insert(words.end(), {"--day", a.day});
    return ask_daemon(cfg.spool.dir, words, std::cout, std::cerr, "dane-relay tlsrpt");
}

}  // namespace

tlsrpt::ReportOptions report_options(const conf::Config& cfg, const std::string& day,
                                     const std::string& domain) {
    const auto r = tlsrpt::reports_config(cfg);
    return {r.organization, r.contact, tlsrpt::report_id(day, domain, r.hostname)};
}

std::string tally_text(const tlsrpt::Tally& t) {
    std::string out;
    for (const auto& [domain, policies] : t.domains()) {
        out += domain + "\n";
        for (const auto& [p, c] : policies) {
            out += "  " + policy_text(p) + ": " + std::to_string(c.successes) + " successful, " +
                   std::to_string(c.failure_total()) + " failed\n";
            for (const auto& [f, n] : c.failures) {
                out += "    " + f.result_type;
                if (!f.receiving_mx.empty())
                    out += " at " + f.receiving_mx +
                           (f.receiving_ip.empty() ? "" : "[" + f.receiving_ip + "]");
                out += ": " + std::to_string(n);
                if (!f.reason.empty()) out += " (" + f.reason + ")";
                out += "\n";
            }
        }
    }
    return out;
}

int run_tlsrpt(std::vector<std::string> args) {
    auto choice = take_config_option(args);
    if (wants_help(args)) {
        std::cout << kUsage;
        return 0;
    }
    auto a = parse(args);
    if (!choice.error.empty() || !a.error.empty()) {
        std::cerr << "dane-relay tlsrpt: " << (choice.error.empty() ? a.error : choice.error)
                  << "\n"
                  << kUsage;
        return 2;
    }
    auto loaded = load_choice(choice);
    if (!loaded.error.empty()) {
        std::cerr << "dane-relay tlsrpt: " << loaded.error << "\n";
        return 2;
    }
    const auto& cfg = loaded.config;
    if (a.send) return send_now(cfg, a);
    const auto day = a.day.empty() ? tlsrpt::utc_day(unix_seconds()) : a.day;
    const auto dir = cfg.spool.dir + "/tlsrpt";
    auto got = tlsrpt::Store(dir).load(day);
    if (!got.error.empty()) {
        std::cerr << "dane-relay tlsrpt: " << got.error << "\n";
        return 1;
    }
    const auto tally = got.tally.value_or(tlsrpt::Tally{});
    if (a.json) {
        boost::json::array reports;
        for (const auto& [domain, _] : tally.domains())
            reports.push_back(
                *tlsrpt::report_json(tally, domain, day, report_options(cfg, day, domain)));
        std::cout << boost::json::serialize(
                         boost::json::object{{"day", day}, {"reports", std::move(reports)}})
                  << "\n";
        return 0;
    }
    std::cout << "TLSRPT counts for " << day << " (UTC), " << dir << "/" << day << ".json"
              << (cfg.tlsrpt.enabled ? "" : " ([tlsrpt] enabled is false)") << "\n"
              << (tally.empty() ? "no sessions counted\n" : tally_text(tally));
    return 0;
}

}  // namespace dr::relay
