// `dane-relay tlsa FILE [options]` (SPEC §11): prints the TLSA record to publish for a
// certificate, chain or key as a zone-file line (or --json). Entry point: run_tlsa(). Exit
// status 0 printed, 1 the input cannot make the record (unreadable, not PEM, chain too short,
// a key for selector 0), 2 usage error. Reads no configuration file and looks up nothing.
#pragma once

#include <string>
#include <vector>

namespace dr::relay {

int run_tlsa(std::vector<std::string> args);

}  // namespace dr::relay
