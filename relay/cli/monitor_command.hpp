// `dane-relay monitor DOMAIN...` (SPEC §11): a Nagios/Icinga plugin over check_domain(): exit
// 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; the first line "DANE STATE - summary | perfdata",
// details after it (or --json). Entry point: run_monitor(). Bad usage and internal trouble
// (an unreadable or wrong --cert file, a resolver that cannot validate) are UNKNOWN.
#pragma once

#include <string>
#include <vector>

namespace dr::relay {

int run_monitor(std::vector<std::string> args);

}  // namespace dr::relay
