// `dane-relay monitor`'s judgement (SPEC §11), the pure part: a DomainReport of check_domain()
// in, findings with their Nagios severity out, and the plugin's output (first line with the
// summary and perfdata, detail lines, JSON). Entry points: judge(), plugin_output(),
// monitor_json(). No sockets, no DNS: the caller probes, this decides.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "relay/cli/check.hpp"

namespace dr::relay {

// Nagios plugin states, in the order of their exit codes.
enum class Severity { ok = 0, warning = 1, critical = 2, unknown = 3 };
const char* to_string(Severity s);  // "OK", "WARNING", "CRITICAL", "UNKNOWN"

struct Finding {
    Severity severity = Severity::ok;
    std::string host;  // the MX host it is about, "" for the domain
    std::string text;
};

struct MonitorOptions {
    std::int64_t now = 0;        // Unix time the dates are compared with
    double sig_warn_days = 7;    // TLSA RRSIGs expiring sooner: WARNING
    double cert_warn_days = 30;  // DANE-TA chain certificates expiring sooner: WARNING
    // --cert FILE: the renewed certificate (chain, leaf first) to check against the records.
    std::optional<std::vector<PeerCert>> renewal;
    std::string renewal_name;  // the file, for the texts
};

// What was counted, for the perfdata.
struct Figures {
    unsigned hosts = 0, addresses = 0, certificates = 0, tlsa_records = 0, tlsa_unmatched = 0;
    std::optional<double> sig_days;      // the soonest TLSA RRSIG expiry, in days from now
    std::optional<double> ta_cert_days;  // the soonest DANE-TA chain certificate expiry
};

struct Judgement {
    std::string domain;
    Severity severity = Severity::ok;
    std::vector<Finding> findings;  // in the order found; empty when all is well
    std::string ok_text;            // what was verified, for an OK line
    Figures figures;
};

Judgement judge(const DomainReport& r, const MonitorOptions& o);

struct PluginOutput {
    Severity severity = Severity::ok;
    std::string first_line;  // "DANE OK - summary | perfdata"
    std::vector<std::string> details;
};

PluginOutput plugin_output(const std::vector<Judgement>& js, const MonitorOptions& o);

// {"status", "exit", "summary", "perfdata", "domains": [{domain, status, findings, figures,
// "check": the check report}]}
boost::json::value monitor_json(const std::vector<Judgement>& js, const MonitorOptions& o,
                                const std::vector<DomainReport>& reports);

}  // namespace dr::relay
