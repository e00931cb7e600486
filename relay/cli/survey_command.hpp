// `dane-relay check --survey FILE` (SPEC §11): check over a list of domains, streamed
// from FILE (never held whole), at most --concurrency at once, one JSON line per domain
// appended and flushed to --out (or stdout), resumable: domains already in --out are
// skipped and a torn last line is cut off and redone. A progress line on stderr (a tty),
// or one final line otherwise; the tally (relay/cli/survey.hpp) at the end.
// Entry point: run_survey(), called by run_check() with the resolver and contexts set up.
#pragma once

#include <boost/asio/io_context.hpp>
#include <string>

#include "relay/cli/check_pool.hpp"

namespace dr::relay {

// The default concurrency of a survey. A list of real domains has many sharing one mail
// provider's MX hosts, so every domain in flight may be a connection to the same server
// (two with the RSA/ECDSA probe): 32 stays below the per-client connection limits common
// at providers (Postfix's smtpd_client_connection_count_limit is 50) and below 1024 file
// descriptors, and tests/bench/check_survey shows no gain from more in the lab.
inline constexpr unsigned kSurveyConcurrency = 32;

struct SurveyArgs {
    std::string file;  // the domain list
    std::string out;   // the JSON lines; "" = stdout
    bool json = false;
};

// `pool` has its resolver, policy, contexts, options and concurrency set. Returns the
// exit status: 0 the survey ran, 2 a start-up error (printed).
int run_survey(const SurveyArgs& args, boost::asio::io_context& io, CheckPool& pool);

}  // namespace dr::relay
