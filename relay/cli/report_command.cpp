// `dane-relay report` (see report_command.hpp): arguments, input files and output; the
// parsing and the tally live in relay/report.
#include "relay/cli/report_command.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>

#include "relay/report/render.hpp"
#include "relay/report/tally.hpp"

namespace dr::relay {
namespace {

constexpr const char* kUsage =
    "usage: dane-relay report [LOG...] [options]\n"
    "\n"
    "Tallies a mail log in Postfix's format (dane-relay's or Postfix's own; stdin\n"
    "when no LOG is named): TLS connections and delivered messages by TLS level\n"
    "(Verified, Trusted, Untrusted, Anonymous, plaintext), deferrals and bounces by\n"
    "reason (DANE failures marked), per recipient domain and per MX host.\n"
    "Compressed logs: zcat them into report.\n"
    "\n"
    "options:\n"
    "  --json         the tally as one JSON object (connections, deliveries,\n"
    "                 failures, domains, mx_hosts)\n"
    "  --csv          the tally as CSV, one row per group\n"
    "  --html FILE    also write a self-contained HTML page with charts to FILE\n"
    "  --title TEXT   the HTML page's title (default \"DANE delivery report\")\n"
    "  --since TIME   only lines at or after TIME, local time: YYYY-MM-DD,\n"
    "  --until TIME   \"YYYY-MM-DD HH:MM[:SS]\" or YYYY-MM-DDTHH:MM[:SS]; --until\n"
    "                 excludes TIME itself\n"
    "\n"
    "exit status: 0 printed, 1 an input cannot be read or is no mail log, 2 usage error\n";

struct Args {
    std::vector<std::string> logs;
    std::string html, title = "DANE delivery report";
    bool json = false, csv = false;
    report::Window window;
};

std::optional<std::time_t> parse_time(const std::string& text) {
    for (const char* fmt : {"%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                            "%Y-%m-%dT%H:%M", "%Y-%m-%d"}) {
        std::tm tm{};
        const char* end = ::strptime(text.c_str(), fmt, &tm);
        if (!end || *end) continue;
        tm.tm_isdst = -1;
        std::time_t t = std::mktime(&tm);
        if (t != -1) return t;
    }
    return std::nullopt;
}

// Fills `a`; returns a usage error, empty when the arguments are fine.
std::string parse_args(const std::vector<std::string>& args, Args& a) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        auto value = [&](std::string& out) {
            if (i + 1 >= args.size()) return arg + " needs a value";
            out = args[++i];
            return std::string();
        };
        std::string err, text;
        if (arg == "--json") {
            a.json = true;
        } else if (arg == "--csv") {
            a.csv = true;
        } else if (arg == "--html") {
            err = value(a.html);
        } else if (arg == "--title") {
            err = value(a.title);
        } else if (arg == "--since" || arg == "--until") {
            err = value(text);
            auto t = parse_time(text);
            if (err.empty() && !t) err = "bad time for " + arg + ": \"" + text + "\"";
            (arg == "--since" ? a.window.since : a.window.until) = t;
        } else if (arg.size() > 1 && arg[0] == '-') {
            err = "unknown option " + arg;
        } else {
            a.logs.push_back(arg);
        }
        if (!err.empty()) return err;
    }
    if (a.json && a.csv) return "--json and --csv exclude each other";
    return {};
}

struct Read {
    std::uint64_t lines = 0, parsed = 0;  // all lines, mail log lines among them
};

// Adds every mail log line of `in` to the tally.
Read read_log(std::istream& in, report::Tally& tally, std::time_t now) {
    Read r;
    std::string line;
    while (std::getline(in, line)) {
        ++r.lines;
        auto l = report::parse_line(line, now);
        if (!l) continue;
        ++r.parsed;
        tally.add(*l);
    }
    return r;
}

// Reads one input ("" = stdin); returns an error text, empty when it was read and, unless
// empty, holds mail log lines.
std::string read_input(const std::string& name, report::Tally& tally, std::time_t now) {
    const std::string shown = name.empty() ? "stdin" : name;
    std::ifstream file;
    if (!name.empty()) {
        file.open(name, std::ios::binary);
        if (!file) return name + ": " + std::strerror(errno);
        if (file.peek() == 0x1f) return name + ": compressed; zcat it into dane-relay report";
    }
    std::istream& in = name.empty() ? std::cin : file;
    const Read r = read_log(in, tally, now);
    if (in.bad()) return shown + ": read error";
    if (r.lines > 0 && r.parsed == 0) return shown + ": no mail log lines in Postfix's format";
    return {};
}

}  // namespace

int run_report(std::vector<std::string> args) {
    for (const auto& a : args)
        if (a == "-h" || a == "--help") {
            std::cout << kUsage;
            return 0;
        }
    Args a;
    if (auto err = parse_args(args, a); !err.empty()) {
        std::cerr << "dane-relay report: " << err << "\n" << kUsage;
        return 2;
    }
    report::Tally tally(a.window);
    const std::time_t now = std::time(nullptr);
    if (a.logs.empty()) a.logs.push_back("");  // stdin
    for (const auto& name : a.logs)
        if (auto err = read_input(name, tally, now); !err.empty()) {
            std::cerr << "dane-relay report: " << err << "\n";
            return 1;
        }
    if (!a.html.empty()) {
        std::ofstream out(a.html, std::ios::binary | std::ios::trunc);
        out << report::to_html(tally, a.title);
        if (!out.flush()) {
            std::cerr << "dane-relay report: cannot write " << a.html << ": "
                      << std::strerror(errno) << "\n";
            return 1;
        }
    }
    std::cout << (a.json  ? report::to_json(tally)
                  : a.csv ? report::to_csv(tally)
                          : report::to_text(tally));
    return 0;
}

}  // namespace dr::relay
