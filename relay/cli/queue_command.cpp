// Queue administration directly on the spool files (see queue_command.hpp).
#include "relay/cli/queue_command.hpp"

#include <iostream>
#include <sstream>

#include "relay/cli/control.hpp"
#include "relay/cli/options.hpp"
#include "relay/cli/privileges.hpp"
#include "relay/cli/queue_list.hpp"
#include "relay/spool/spool.hpp"

namespace dr::relay {
namespace {

constexpr int kExitTempFail = 75;  // sysexits.h EX_TEMPFAIL

constexpr const char* kUsage =
    "usage: dane-relay queue [-c FILE] [list [--json] | flush | delete ID... | hold ID... | "
    "release ID...]\n"
    "\n"
    "Lists or changes the queue like postqueue/postsuper: on the stopped spool directly, or\n"
    "through the running daemon's control socket <spool>/control.\n";

// Deferred recipients become due now; held messages stay held (as postqueue -f).
std::error_code flush_page(Spool& spool, const std::vector<MessageInfo>& page) {
    for (const auto& m : page) {
        std::vector<StatusUpdate> ups;
        for (std::size_t i = 0; i < m.rcpts.size(); ++i) {
            if (m.rcpts[i].status != RcptStatus::deferred || m.rcpts[i].next_attempt_us == 0)
                continue;
            ups.push_back({i, m.rcpts[i]});
            ups.back().state.next_attempt_us = 0;
        }
        if (ups.empty()) continue;
        if (auto ec = spool.update(m.id, ups)) return ec;
    }
    return {};
}

constexpr std::size_t kPage = 1024;  // messages in memory at once while listing or flushing

std::error_code flush_all(Spool& spool) {
    std::string after;
    for (auto page = spool.list(after, kPage); !page.empty(); page = spool.list(after, kPage)) {
        after = page.back().id;
        if (auto ec = flush_page(spool, page)) return ec;
    }
    return {};
}

// Page by page, so that a queue of a million messages is never all in memory.
void list_all(const Spool& spool, bool json, std::ostream& out) {
    std::string after;
    std::uint64_t bytes = 0;
    std::size_t count = 0;
    for (auto page = spool.list(after, kPage); !page.empty(); page = spool.list(after, kPage)) {
        after = page.back().id;
        if (json) {
            out << format_queue_json(page);
            continue;
        }
        if (count == 0) out << format_queue_list_head();
        out << format_queue_list_entries(page);
        count += page.size();
        for (const auto& m : page) bytes += m.body_size;
    }
    if (json) return;
    out << (count == 0 ? "Mail queue is empty\n" : format_queue_list_tail(bytes, count));
}

int per_id(Spool& spool, const std::string& verb, const std::vector<std::string>& ids,
           std::ostream& out, std::ostream& err) {
    int status = 0;
    for (const auto& id : ids) {
        std::error_code ec = verb == "delete" ? spool.remove(id)
                             : verb == "hold" ? spool.hold(id)
                                              : spool.release(id);
        if (ec) {
            err << "dane-relay queue: " << id << ": " << ec.message() << "\n";
            status = 1;
            continue;
        }
        // Postfix's postsuper reports the same way: "<id>: removed" etc.
        out << id << ": "
            << (verb == "delete" ? "removed"
                : verb == "hold" ? "held"
                                 : "released")
            << "\n";
    }
    return status;
}

bool valid_args(const std::vector<std::string>& args) {
    const std::string verb = args.empty() ? "list" : args[0];
    const std::size_t n = args.empty() ? 0 : args.size() - 1;
    if (verb == "list") return n == 0 || (n == 1 && args[1] == "--json");
    if (verb == "flush") return n == 0;
    return (verb == "delete" || verb == "hold" || verb == "release") && n > 0;
}

}  // namespace

int run_queue_command(const std::string& spool_dir, const std::vector<std::string>& args,
                      std::ostream& out, std::ostream& err) {
    if (!valid_args(args)) {
        err << kUsage;
        return 2;
    }
    std::error_code ec;
    auto spool = Spool::open({spool_dir, 0}, ec);
    if (!spool) {
        err << "dane-relay queue: " << spool_dir << ": " << ec.message() << "\n";
        return ec == SpoolErrc::locked ? kExitTempFail : 1;
    }
    return run_queue_command_on(*spool, args, out, err);
}

int run_queue_command_on(Spool& spool, const std::vector<std::string>& args, std::ostream& out,
                         std::ostream& err) {
    if (!valid_args(args)) {
        err << kUsage;
        return 2;
    }
    const std::string verb = args.empty() ? "list" : args[0];
    const std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1), args.end());
    if (verb == "delete" || verb == "hold" || verb == "release")
        return per_id(spool, verb, rest, out, err);
    if (verb == "flush") {
        std::error_code ec = flush_all(spool);
        if (ec) err << "dane-relay queue: flush: " << ec.message() << "\n";
        return ec ? 1 : 0;
    }
    const bool json = !rest.empty();
    list_all(spool, json, out);
    return 0;
}

int run_queue(std::vector<std::string> args) {
    auto choice = take_config_option(args);
    if (!choice.error.empty()) {
        std::cerr << "dane-relay queue: " << choice.error << "\n" << kUsage;
        return 2;
    }
    if (wants_help(args)) {
        std::cout << kUsage;
        return 0;
    }
    auto loaded = load_choice(choice);
    if (!loaded.error.empty()) {
        std::cerr << loaded.error << "\n";
        return 2;
    }
    // As postsuper does: root works on the queue as its owner, so that it neither follows the
    // owner's links nor leaves root-owned files the daemon cannot open.
    RunAs who = run_as(loaded.config.server);
    if (who.error.empty() && who.account) who.error = switch_to(*who.account);
    if (!who.error.empty()) {
        std::cerr << "dane-relay queue: " << who.error << "\n";
        return 1;
    }
    const auto& dir = loaded.config.spool.dir;
    std::ostringstream err;
    int rc = run_queue_command(dir, args, std::cout, err);
    if (rc == kExitTempFail) return ask_daemon(dir, args, std::cout, std::cerr);
    std::cerr << err.str();
    return rc;
}

}  // namespace dr::relay
