// `dane-relay tlsrpt show [-c FILE] [--day YYYY-MM-DD] [--json]`: the TLSRPT counts (RFC
// 8460) the daemon keeps in <spool>/tlsrpt for one UTC day (default today): per policy
// domain and policy, the successful sessions and the failures by result type, MX host and
// address; --json prints the report each domain would get (RFC 8460 §4.4). The daemon
// writes its counts every minute and when it stops.
// `dane-relay tlsrpt send-now [-c FILE] [--day YYYY-MM-DD]`: the running daemon sends, at
// once, the reports of every finished day not yet sent, or of that day again (see
// relay/tlsrpt/reports.hpp), and says what went where.
// Entry point: run_tlsrpt(); exit status 0, 1 when the day's file is unreadable or a report
// did not go, 2 usage, 75 when no daemon answers.
#pragma once

#include <string>
#include <vector>

#include "conf/config.hpp"
#include "relay/tlsrpt/tally.hpp"

namespace dr::relay {

int run_tlsrpt(std::vector<std::string> args);

// The report options of a configuration: [tlsrpt] organization and contact, or their
// defaults from [server] hostname; the report id names the day, the domain and us.
tlsrpt::ReportOptions report_options(const conf::Config& cfg, const std::string& day,
                                     const std::string& domain);

// The text `show` prints for one day's tally.
std::string tally_text(const tlsrpt::Tally& t);

}  // namespace dr::relay
