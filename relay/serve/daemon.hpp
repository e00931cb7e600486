// `dane-relay serve` (SPEC §3, §4, §10): binds the listeners, drops root,
// opens the spool, checks that the resolver validates, then accepts mail
// from allowed clients and delivers it with DANE until SIGTERM (graceful:
// stop accepting, finish running deliveries). SIGHUP reloads the policy,
// queue and limit settings, keeping the old ones when the new file is bad.
// Entry point: run_serve(); returns the exit status (start-up errors: 1).
#pragma once

#include <string>
#include <vector>

namespace dr::relay {

int run_serve(std::vector<std::string> args);

}  // namespace dr::relay
