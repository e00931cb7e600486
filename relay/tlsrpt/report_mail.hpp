// A TLSRPT report as mail (RFC 8460 §5.3), pure: multipart/report; report-type="tlsrpt"
// with a short text part and the report gzip'd (application/tlsrpt+gzip) under the file
// name of §5.1, the TLS-Report-Domain and TLS-Report-Submitter fields, and
// "TLS-Required: No" (RFC 8689 §5: a report about broken TLS must still get through).
// Entry points: compose_report_mail(), report_file_name(), gzip().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dr::relay::tlsrpt {

struct ReportMailInput {
    std::string domain;     // the policy domain the report is about
    std::string submitter;  // our domain (TLS-Report-Submitter, the file name's first part)
    std::string report_id;
    std::string day;       // "2026-12-03" (UTC), the report's day
    std::string from;      // header From and envelope sender
    std::string to;        // the rua address, without "mailto:"
    std::string hostname;  // for the Message-ID
    std::int64_t now_us = 0;
    std::string json;  // the report (report_json(), serialized)
};

// "2026-12-03T00:00:00Z_example.com@relay.example.org": one report per day, domain and us.
std::string report_id(const std::string& day, const std::string& domain,
                      const std::string& hostname);

// CRLF line ends, ready for the queue.
std::string compose_report_mail(const ReportMailInput& in);

// "submitter!domain!begin!end!id.json.gz" (RFC 8460 §5.1): begin and end in Unix seconds
// (the day's first and last second); characters that cannot be in a file name become '_'.
std::string report_file_name(const ReportMailInput& in);

// RFC 1952 gzip of `data` (zlib).
std::string gzip(std::string_view data);

// The Unix time of a day's 00:00:00 UTC; -1 when `day` is not "YYYY-MM-DD".
std::int64_t day_start(const std::string& day);

}  // namespace dr::relay::tlsrpt
