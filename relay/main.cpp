// dane-relay: the command line (SPEC §9), the subcommand table and nothing else. Each
// subcommand lives in its room (relay/serve, relay/cli) and returns the exit status; 2 is a
// usage error. Every subcommand reads its configuration through relay/cli/options.hpp.
#include <iostream>
#include <string_view>
#include <vector>

#include "relay/cli/check.hpp"
#include "relay/cli/config_command.hpp"
#include "relay/cli/monitor_command.hpp"
#include "relay/cli/queue_command.hpp"
#include "relay/cli/report_command.hpp"
#include "relay/cli/tlsa_command.hpp"
#include "relay/cli/tlsrpt_command.hpp"
#include "relay/serve/daemon.hpp"

namespace {

constexpr const char* kUsage =
    "usage: dane-relay COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  serve   [-c FILE]             run the relay in the foreground\n"
    "  check   DOMAIN...             MX, TLSA, DNSSEC status and a live STARTTLS + DANE verdict\n"
    "  queue   [-c FILE] [list [--json]|flush|delete ID...|hold ID...|release ID...]\n"
    "                                the queue (running daemon or stopped spool)\n"
    "  tlsa    FILE [--usage U --selector S --mtype M] [--host H --port P] [--next FILE]\n"
    "                                the TLSA record to publish for a certificate or key\n"
    "  monitor DOMAIN... [--cert FILE] [--sig-warn DAYS] [--cert-warn DAYS] [--json]\n"
    "                                a Nagios/Icinga plugin: exit 0 OK ... 3 UNKNOWN\n"
    "  report  [LOG...] [--json|--csv] [--html FILE] [--since T] [--until T]\n"
    "                                tally a mail log by TLS level, failure, domain, MX host\n"
    "  tlsrpt  show [-c FILE] [--day YYYY-MM-DD] [--json] | send-now [-c FILE] [--day D]\n"
    "                                TLS reporting (RFC 8460): a day's counts; send reports\n"
    "  config  check [-c FILE]       validate a configuration file\n"
    "\n"
    "Every command has --help. Without -c, a command that uses the configuration reads\n"
    "/etc/dane-relay/dane-relay.toml when it exists, else the built-in defaults apply\n"
    "(tlsa and report read none).\n";

struct Command {
    std::string_view name;
    int (*run)(std::vector<std::string> args);
};

// One command a line.
// clang-format off
constexpr Command kCommands[] = {
    {"serve", dr::relay::run_serve},
    {"check", dr::relay::run_check},
    {"queue", dr::relay::run_queue},
    {"tlsa", dr::relay::run_tlsa},
    {"report", dr::relay::run_report},
    {"monitor", dr::relay::run_monitor},
    {"config", dr::relay::run_config},
    {"tlsrpt", dr::relay::run_tlsrpt},
};
// clang-format on

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << kUsage;
        return 2;
    }
    std::string_view cmd = argv[1];
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
        std::cout << kUsage;
        return 0;
    }
    for (const auto& c : kCommands)
        if (c.name == cmd) return c.run(std::vector<std::string>(argv + 2, argv + argc));
    std::cerr << "dane-relay: unknown command '" << cmd << "'\n\n" << kUsage;
    return 2;
}
