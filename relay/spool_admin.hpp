// `dane-relay queue` on a stopped spool (SPEC §4, §9): list [--json], flush, delete ID...,
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

}  // namespace dr::relay
