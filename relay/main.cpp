// dane-relay: the command line (SPEC §9). Each subcommand lives in its own
// file; main only dispatches. Exit status 2 means a usage error.
#include <cstdio>
#include <string_view>

#include "relay/check.hpp"

namespace {

constexpr const char* kUsage =
    "usage: dane-relay COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  check   DOMAIN...      MX, TLSA, DNSSEC status and a live STARTTLS + DANE verdict\n"
    "\n"
    "planned (not yet available): serve, queue, tlsa, monitor, config check\n"
    "Every command has --help.\n";

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    std::string_view cmd = argv[1];
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (cmd == "check") return dr::relay::run_check(argc - 2, argv + 2);
    std::fprintf(stderr, "dane-relay: unknown command '%s'\n\n%s", argv[1], kUsage);
    return 2;
}
