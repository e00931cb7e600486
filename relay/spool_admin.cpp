// Queue administration directly on the spool files (see spool_admin.hpp).
#include "relay/spool_admin.hpp"

#include "relay/spool.hpp"
#include "relay/spool_list.hpp"

namespace dr::relay {
namespace {

constexpr int kExitTempFail = 75;  // sysexits.h EX_TEMPFAIL

constexpr const char* kUsage =
    "usage: dane-relay queue [list [--json] | flush | delete ID... | hold ID... | release ID...]\n";

// Deferred recipients become due now; held messages stay held (as postqueue -f).
std::error_code flush_all(Spool& spool) {
    for (const auto& m : spool.list()) {
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

}  // namespace

int run_queue_command(const std::string& spool_dir, const std::vector<std::string>& args,
                      std::ostream& out, std::ostream& err) {
    std::string verb = args.empty() ? "list" : args[0];
    std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1), args.end());
    bool by_id = verb == "delete" || verb == "hold" || verb == "release";
    bool json = rest.size() == 1 && rest[0] == "--json";
    bool ok = (verb == "list" && (rest.empty() || json)) || (verb == "flush" && rest.empty()) ||
              (by_id && !rest.empty());
    if (!ok) {
        err << kUsage;
        return 2;
    }
    std::error_code ec;
    auto spool = Spool::open({spool_dir, 0}, ec);
    if (!spool) {
        err << "dane-relay queue: " << spool_dir << ": " << ec.message() << "\n";
        return ec == SpoolErrc::locked ? kExitTempFail : 1;
    }
    if (by_id) return per_id(*spool, verb, rest, out, err);
    if (verb == "flush") {
        if ((ec = flush_all(*spool))) err << "dane-relay queue: flush: " << ec.message() << "\n";
        return ec ? 1 : 0;
    }
    out << (json ? format_queue_json(spool->list()) : format_queue_list(spool->list()));
    return 0;
}

}  // namespace dr::relay
