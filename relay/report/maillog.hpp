// Reading a Postfix-format mail log back (SPEC §6, §11 `report`): one syslog line split into
// time, host, program and text, and the two records a TLS tally needs, the outbound TLS line
// and the delivery line, as dane-relay and Postfix itself write them. Pure functions over
// text; nothing here reads files. Entry points: parse_line(), parse_tls(), parse_delivery().
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace dr::relay::report {

struct LogLine {
    std::time_t when = 0;   // seconds since the epoch
    std::string_view host;  // the syslog host field
    std::string_view name;  // "postfix/smtp" or "dane-relay/smtp"
    std::string_view pid;   // "4711"
    std::string_view text;  // after "name[pid]: "
    // The role after the last '/': "smtp", "smtpd", "qmgr"...
    std::string_view role() const;
};

// `now` gives the year of traditional "Nov 23 19:20:01" stamps (local time, no year): the
// latest year that does not put the line more than a day after `now`, as log tools assume.
// RFC 3339 stamps ("2026-11-23T19:20:01.123456+01:00", rsyslog's high-precision default)
// carry their own. Nullopt: not a syslog line.
std::optional<LogLine> parse_line(std::string_view line, std::time_t now);

// "Verified TLS connection established to mx.example[192.0.2.1]:25: TLSv1.3 ..."
struct TlsLine {
    std::string level;     // Anonymous, Untrusted, Trusted, Verified
    std::string endpoint;  // "mx.example[192.0.2.1]:25", as relay= writes it
};
std::optional<TlsLine> parse_tls(std::string_view text);

// "QID: to=<rcpt>, [orig_to=<..>, ]relay=host[addr]:port, ..., dsn=X, status=S (reason)"
struct Delivery {
    std::string queue_id, recipient, relay, dsn, status, reason;
    std::string tls;  // the tls= feature field (Postfix 3.11, dane-relay), if any
    // The recipient's domain, lower case; "" for an address without one.
    std::string domain() const;
    // The relay's host name without address and port; "none" when there was no connection.
    std::string relay_host() const;
};
std::optional<Delivery> parse_delivery(std::string_view text);

// A short, stable label for why a delivery was deferred or bounced: the SPEC §6 failure
// texts by kind ("dane: ...", "dns: ..."), remote replies by enhanced status code.
struct Reason {
    std::string label;
    bool dane = false;  // a DANE or mandatory-TLS failure
};
Reason classify(const Delivery& d);

}  // namespace dr::relay::report
