// `dane-relay config check [-c FILE]` (SPEC §8, §9): loads the file as the daemon would and
// prints every problem as "file:line:column: message". Entry point: run_config(); exit status
// 0 valid, 1 invalid, 2 usage.
#pragma once

#include <string>
#include <vector>

namespace dr::relay {

int run_config(std::vector<std::string> args);

}  // namespace dr::relay
