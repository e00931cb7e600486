// `dane-relay queue` (SPEC §4, §9): list [--json], flush, delete ID...,
// hold ID..., release ID... Entry point: run_queue_command(). Returns an exit status: 0 done,
// 1 some ID unknown or an I/O error, 2 usage error, 75 (EX_TEMPFAIL) the spool is locked by a
// running daemon, which must then be asked through its control socket instead.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace dr::relay {

int run_queue_command(const std::string& spool_dir, const std::vector<std::string>& args,
                      std::ostream& out, std::ostream& err);

class Spool;
// The same commands on a spool this process already holds (the running
// daemon's control socket uses it). Returns the same exit statuses.
int run_queue_command_on(Spool& spool, const std::vector<std::string>& args, std::ostream& out,
                         std::ostream& err);

// The subcommand: `dane-relay queue [-c FILE] ARGS`, on the stopped spool, or through the
// running daemon's control socket (relay/cli/control.hpp) when the daemon holds the spool.
int run_queue(std::vector<std::string> args);

}  // namespace dr::relay
