// dane-relay: the command line (SPEC §9). Each subcommand lives in its own
// file; main only dispatches. Exit status 2 means a usage error.
#include <cstdio>
#include <cstring>
#include <string_view>

namespace {

constexpr const char* kUsage =
    "usage: dane-relay COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  serve   [-c FILE]      run the relay (foreground)\n"
    "  check   DOMAIN...      MX, TLSA, DNSSEC status and a live STARTTLS + DANE verdict\n"
    "  queue   [list|flush|delete ID|hold ID|release ID]\n"
    "  tlsa    CERT.pem       the TLSA record to publish for a certificate\n"
    "  monitor DOMAIN...      Nagios-style DANE monitoring\n"
    "  config  check [-c FILE]\n"
    "\n"
    "Every command has --help.\n";

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    std::fprintf(stderr, "dane-relay: unknown command '%s'\n%s", argv[1], kUsage);
    return 2;
}
