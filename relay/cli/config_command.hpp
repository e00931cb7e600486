// `dane-relay config check [-c FILE]` (SPEC §8, §9): loads the file as the daemon would and
// prints every problem as "file:line:column: message", then reads the files it names as the
// daemon does at start ([tls] cert and key, auth_users: every wrong line as "file:line:
// reason"). Entry point: run_config(); exit status 0 valid, 1 invalid, 2 usage.
#pragma once

#include <string>
#include <vector>

namespace dr::relay {

int run_config(std::vector<std::string> args);

}  // namespace dr::relay
