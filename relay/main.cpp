// dane-relay: the command line (SPEC §9). Each subcommand lives in its own
// file; main only dispatches. Exit status 2 means a usage error.
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string_view>
#include <vector>

#include "conf/config.hpp"
#include "relay/check.hpp"
#include "relay/serve.hpp"
#include "relay/spool_admin.hpp"

namespace {

constexpr const char* kUsage =
    "usage: dane-relay COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  serve   [-c FILE]             run the relay in the foreground\n"
    "  check   DOMAIN...             MX, TLSA, DNSSEC status and a live STARTTLS + DANE verdict\n"
    "  queue   [-c FILE] [list [--json]|flush|delete ID...|hold ID...|release ID...]\n"
    "                                the queue (running daemon or stopped spool)\n"
    "  config  check [-c FILE]       validate a configuration file\n"
    "\n"
    "planned (not yet available): tlsa, monitor\n"
    "Every command has --help. Without -c, /etc/dane-relay/dane-relay.toml is read\n"
    "when it exists, else the built-in defaults apply.\n";

constexpr const char* kDefaultConfig = "/etc/dane-relay/dane-relay.toml";

// Takes "-c FILE" / "--config FILE" out of args; returns the file to read or "".
std::string take_config(std::vector<std::string>& args) {
    std::string file;
    for (auto it = args.begin(); it != args.end();) {
        if ((*it == "-c" || *it == "--config") && it + 1 != args.end()) {
            file = *(it + 1);
            it = args.erase(it, it + 2);
        } else {
            ++it;
        }
    }
    if (file.empty() && std::filesystem::exists(kDefaultConfig)) file = kDefaultConfig;
    return file;
}

dr::conf::Config load(const std::string& file) {
    return file.empty() ? dr::conf::Config{} : dr::conf::load_config(file);
}

int config_command(std::vector<std::string> args) {
    std::string file = take_config(args);
    if (args.size() != 1 || args[0] != "check") {
        std::cerr << "usage: dane-relay config check [-c FILE]\n";
        return args.size() == 1 && (args[0] == "--help" || args[0] == "-h") ? 0 : 2;
    }
    try {
        load(file);
    } catch (const dr::conf::ConfigError& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    std::cout << (file.empty() ? "built-in defaults" : file) << ": OK\n";
    return 0;
}

// The running daemon's control socket: "<verb> <args>\n" in, "<status>\n<output>" out.
int ask_daemon(const std::string& spool_dir, const std::vector<std::string>& args) {
    namespace asio = boost::asio;
    try {
        asio::io_context io;
        asio::local::stream_protocol::socket s(io);
        s.connect(dr::relay::control_socket_path(spool_dir));
        std::string line;
        for (const auto& a : args) line += (line.empty() ? "" : " ") + a;
        asio::write(s, asio::buffer(line + "\n"));
        std::string reply;
        boost::system::error_code ec;
        asio::read(s, asio::dynamic_buffer(reply), ec);
        auto nl = reply.find('\n');
        if (nl == std::string::npos) throw std::runtime_error("no answer from the daemon");
        std::cout << reply.substr(nl + 1);
        return std::stoi(reply.substr(0, nl));
    } catch (const std::exception& e) {
        std::cerr << "dane-relay queue: the spool is in use and the daemon's control socket "
                     "does not answer: "
                  << e.what() << "\n";
        return 75;
    }
}

int queue_command(std::vector<std::string> args) {
    std::string file = take_config(args);
    dr::conf::Config cfg;
    try {
        cfg = load(file);
    } catch (const dr::conf::ConfigError& e) {
        std::cerr << e.what() << "\n";
        return 2;
    }
    std::ostringstream err;
    int rc = dr::relay::run_queue_command(cfg.spool.dir, args, std::cout, err);
    if (rc == 75) return ask_daemon(cfg.spool.dir, args);  // a running daemon holds the spool
    std::cerr << err.str();
    return rc;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << kUsage;
        return 2;
    }
    std::string_view cmd = argv[1];
    std::vector<std::string> rest(argv + 2, argv + argc);
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
        std::cout << kUsage;
        return 0;
    }
    if (cmd == "check") return dr::relay::run_check(argc - 2, argv + 2);
    if (cmd == "serve") return dr::relay::run_serve(rest);
    if (cmd == "queue") return queue_command(rest);
    if (cmd == "config") return config_command(rest);
    std::cerr << "dane-relay: unknown command '" << cmd << "'\n\n" << kUsage;
    return 2;
}
