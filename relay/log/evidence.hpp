// The DANE evidence as JSON (SPEC §6): DNS answers with their DNSSEC status,
// TLSA records and their usability, each host's TLS plan, and what each TLS
// handshake proved. Shared by `check --json` and the [log] json file that
// gets one line per delivery attempt. Entry points: destination_json(),
// tls_json(), EvidenceLog. Opening the log file is a start-up error (throws).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>

#include "dane/destination.hpp"
#include "dane/verify.hpp"
#include "relay/log/log_file.hpp"
#include "smtp/delivery_status.hpp"

namespace dr::relay {

boost::json::value failure_json(const std::optional<dane::Failure>& f);
boost::json::value tls_json(const std::optional<dane::TlsOutcome>& t);
boost::json::object status_json(const smtp::DeliveryStatus& s);
// domain, policy, port, mx, mx_plan and hosts (lookups, TLSA, plan) of a destination;
// callers add their own per-host "connections".
boost::json::object destination_json(const dane::Destination& d);

// One JSON document per line, appended with a single write(2).
class EvidenceLog {
  public:
    // Throws std::runtime_error. A file it creates goes to `owner`.
    explicit EvidenceLog(const std::string& path, const std::optional<FileOwner>& owner = {});
    ~EvidenceLog();
    EvidenceLog(const EvidenceLog&) = delete;
    EvidenceLog& operator=(const EvidenceLog&) = delete;
    void write(const boost::json::value& v);

  private:
    int fd_ = -1;
};

}  // namespace dr::relay
