// The tally of `dane-relay report` written out (SPEC §11): a text table for people, JSON
// (keys connections, deliveries, failures, domains, mx_hosts), CSV (one row per group), and
// one self-contained HTML page with bar charts (inline SVG and CSS, no scripts or fonts).
// Groups are listed largest first. Entry points: to_text(), to_json(), to_csv(), to_html().
#pragma once

#include <string>

#include "relay/report/tally.hpp"

namespace dr::relay::report {

// The TLS levels in the order tables show them, strongest first, then "plaintext".
inline constexpr const char* kLevels[] = {"Verified", "Trusted", "Untrusted", "Anonymous",
                                          "plaintext"};

std::string to_text(const Tally& t);
std::string to_json(const Tally& t);
std::string to_csv(const Tally& t);
std::string to_html(const Tally& t, const std::string& title);

}  // namespace dr::relay::report
