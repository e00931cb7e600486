// `dane-relay report [LOG...] [options]` (SPEC §11): the survey tally of a Postfix-format
// mail log, dane-relay's or Postfix's own, from the files named or stdin; as a table,
// --json, --csv, and/or a self-contained --html page. Entry point: run_report(). Exit status
// 0 printed, 1 an input cannot be read or holds no mail log lines, 2 usage error. Reads no
// configuration file and looks up nothing.
#pragma once

#include <string>
#include <vector>

namespace dr::relay {

int run_report(std::vector<std::string> args);

}  // namespace dr::relay
