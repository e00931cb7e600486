// Typed, immutable configuration (SPEC §8). load_config / parse_config (loader.cpp)
// turn a TOML file into a Config or throw ConfigError, one "file:line:column: message"
// line per problem. A default-constructed Config is the built-in defaults.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "conf/address.hpp"
#include "conf/values.hpp"

namespace dr::conf {

// TLS security level per destination, as Postfix names them (SPEC §5).
enum class TlsLevel { dane_only, dane, encrypt, verify, may, none };

struct ServerConfig {
    std::vector<Endpoint> listen = default_listen();
    std::vector<Cidr> allowed_clients = default_allowed_clients();
    // Banner and EHLO name. Empty in a default-constructed Config; the loader
    // fills in default_hostname() when the file does not set it.
    std::string hostname;
    std::uint64_t max_message_size = 50ull * 1024 * 1024;
    std::string user = "dane-relay";  // empty: keep the starting user
    bool allow_root = false;          // may `user` name an account with uid 0?
    // Limits of SPEC §3, Postfix's defaults (smtpd_recipient_limit, smtpd_timeout,
    // smtpd_client_connection_count_limit, default_process_limit).
    unsigned max_recipients = 1000;
    std::chrono::seconds command_timeout{300};
    unsigned max_connections = 100;
    unsigned max_connections_per_client = 50;
    // SPEC §12: a whole session ends after this, however busy; clients outside
    // allowed_clients get at most this many connections of their own (AUTH needs a session;
    // without AUTH they are refused at once), never the slots above; NOOP, RSET and VRFY
    // beyond junk_command_limit count as errors (Postfix's smtpd_junk_command_limit).
    std::chrono::seconds session_timeout{3600};
    unsigned max_unallowed_connections = 10;
    unsigned junk_command_limit = 100;
    // SPEC §3: a file of "user:hash" lines (conf/users.hpp) who may AUTH PLAIN/LOGIN after
    // STARTTLS and then relay from any address; "" (the default): no AUTH. Needs [tls].
    std::string auth_users;
    // Postfix's in_flow_delay: when mail arrives faster than it is delivered, each new
    // message waits up to this long first (relay/queue/in_flow.hpp). 0 turns it off; 0..10s.
    std::chrono::seconds in_flow_delay{1};

    static std::vector<Endpoint> default_listen();
    static std::vector<Cidr> default_allowed_clients();
    bool operator==(const ServerConfig&) const = default;
};

struct SpoolConfig {
    std::string dir = "/var/spool/dane-relay";
    bool operator==(const SpoolConfig&) const = default;
};

struct QueueConfig {
    std::chrono::seconds minimal_backoff{5 * 60};
    std::chrono::seconds maximal_backoff{60 * 60};
    std::chrono::seconds maximal_queue_lifetime{5 * 24 * 60 * 60};
    // Postfix's delay_warning_time: a message still queued this long after arrival gets one
    // delay notice (RFC 3464 "delayed") to its sender. 0 = never (the default, as Postfix).
    std::chrono::seconds delay_warning_time{0};
    // SPEC §4 concurrency; Postfix: default_process_limit,
    // default_destination_concurrency_limit.
    unsigned concurrency = 100;
    unsigned destination_concurrency = 20;
    // SPEC §12 fairness: a destination whose last attempt took slow_attempt_time or longer
    // is slow; slow destinations together hold at most slow_concurrency deliveries.
    unsigned slow_concurrency = 25;
    std::chrono::seconds slow_attempt_time{60};
    bool operator==(const QueueConfig&) const = default;
};

// The SMTP client's limits (SPEC §12): Postfix's smtp_*_timeout per step, each bounding
// the whole step (not each read), a deadline for the whole attempt, reply caps
// (line_length_limit per line, a line count, a byte total) and smtp_mx_address_limit /
// smtp_mx_session_limit (0: no limit).
struct SmtpClientConfig {
    std::chrono::seconds connect_timeout{30};
    std::chrono::seconds helo_timeout{300};  // the greeting and EHLO/HELO
    std::chrono::seconds starttls_timeout{300};
    std::chrono::seconds mail_timeout{300};
    std::chrono::seconds rcpt_timeout{300};
    std::chrono::seconds data_init_timeout{120};
    std::chrono::seconds data_xfer_timeout{180};
    std::chrono::seconds data_done_timeout{600};
    std::chrono::seconds rset_timeout{20};
    std::chrono::seconds quit_timeout{300};
    std::chrono::seconds attempt_timeout{3600};
    unsigned line_length_limit = 2048;
    unsigned reply_lines_limit = 100;
    std::uint64_t reply_size_limit = 64 * 1024;
    unsigned mx_address_limit = 5;
    unsigned mx_session_limit = 2;
    // Postfix's smtp_connection_cache_time_limit (0: no connection cache) and
    // smtp_connection_reuse_time_limit.
    std::chrono::seconds connection_cache_time_limit{2};
    std::chrono::seconds connection_reuse_time_limit{300};
    bool operator==(const SmtpClientConfig&) const = default;
};

struct DnsConfig {
    std::string unbound_conf;          // optional unbound.conf (private roots, tests)
    std::vector<Endpoint> forwarders;  // forward, still validate locally; port defaults to 53
    std::string trust_anchor_file;     // RFC 5011 managed root anchor
    // Where to find forwarders when no forwarders are set and the root servers cannot be
    // reached (networks that block outbound DNS); "" turns that fallback off.
    std::string resolv_conf = "/etc/resolv.conf";
    std::chrono::milliseconds query_timeout{10'000};
    bool operator==(const DnsConfig&) const = default;
};

struct TlsServerConfig {
    std::string cert;
    std::string key;
    // PEM CA certificates trusted for PKIX verification (the "verify" level, MTA-STS MX hosts
    // and policy hosts) instead of the system's, as Postfix's smtp_tls_CAfile without
    // tls_append_default_CA. "" (the default): the system CAs. Read at start-up.
    std::string ca_file;
    bool operator==(const TlsServerConfig&) const = default;
};

struct DomainPolicy {
    TlsLevel level = TlsLevel::dane;
    std::optional<Nexthop> nexthop;  // route override; "[host]:port" skips the MX lookup
    bool operator==(const DomainPolicy&) const = default;
};

struct PolicyConfig {
    TlsLevel default_level = TlsLevel::dane;
    TlsLevel insecure_mx_policy = TlsLevel::dane;  // dane | encrypt | may
    std::map<std::string, DomainPolicy> domains;   // keys lower-case, no trailing dot

    // The policy for a recipient domain: the exact entry, else the default.
    DomainPolicy for_domain(const std::string& domain) const;
    bool operator==(const PolicyConfig&) const = default;
};

struct LogConfig {
    LogTarget target;  // syslog | stderr | file:/path
    std::string syslog_name = "dane-relay";
    std::string json;  // optional path for JSON evidence lines
    // Postfix 3.11's smtp_log_tls_feature_status: "tls=…" in every delivery line.
    bool tls_feature_status = true;
    bool operator==(const LogConfig&) const = default;
};

// MTA-STS (RFC 8461): where a domain has no usable DANE, its MTA-STS policy applies at the
// levels dane, may and encrypt (relay/queue/sts_policies.hpp, dane/sts_plan.hpp).
struct StsConfig {
    bool enabled = true;
    bool operator==(const StsConfig&) const = default;
};

// REQUIRETLS (RFC 8689): offered after STARTTLS (`offer`), and whether a message's
// "TLS-Required: No" header is honoured at delivery (`tls_required_no`: "honour", the
// RFC's default, or "ignore" where compliance forbids unverified delivery; then DANE and
// MTA-STS apply to it as to any message). dane/requiretls_plan.hpp.
struct RequireTlsConfig {
    bool offer = true;
    bool honour_tls_required_no = true;
    bool operator==(const RequireTlsConfig&) const = default;
};

// SMTP TLS Reporting (RFC 8460): the sessions counted per policy domain and day, kept in
// <spool>/tlsrpt (relay/tlsrpt). Off by default, as Postfix's smtp_tlsrpt_enable. The
// report's organization-name and contact-info, and the From of report mail; "" takes
// [server] hostname, "postmaster@<hostname>" and "noreply-smtp-tls-reporting@<hostname>".
struct TlsrptConfig {
    bool enabled = false;
    std::string organization;
    std::string contact;
    std::string from;
    bool operator==(const TlsrptConfig&) const = default;
};

// SPEC §10: the Prometheus page (GET /metrics) on this address; unset (the default): off.
struct MetricsConfig {
    std::optional<Endpoint> listen;
    bool operator==(const MetricsConfig&) const = default;
};

struct Config {
    ServerConfig server;
    SpoolConfig spool;
    QueueConfig queue;
    SmtpClientConfig smtp;
    DnsConfig dns;
    TlsServerConfig tls;
    PolicyConfig policy;
    StsConfig sts;
    RequireTlsConfig requiretls;
    TlsrptConfig tlsrpt;
    LogConfig log;
    MetricsConfig metrics;
    bool operator==(const Config&) const = default;
};

// Every problem found, in file order, one "file:line:column: message" per line
// of what(); problems() has them one by one. A TOML syntax error stops the
// parse, so it comes alone. Nothing is half-applied: callers keep their old
// Config (SIGHUP reload) when this is thrown.
class ConfigError : public std::runtime_error {
  public:
    explicit ConfigError(std::vector<std::string> problems);
    const std::vector<std::string>& problems() const { return problems_; }

  private:
    std::vector<std::string> problems_;
};

// Reads and parses the file; an unreadable file is a ConfigError "path: reason".
Config load_config(const std::string& path);
// Parses TOML text; source_name is the "file" in error messages.
Config parse_config(std::string_view text, std::string_view source_name);

// gethostname(), or "localhost" when that fails: the default [server] hostname.
std::string default_hostname();

const char* to_string(TlsLevel level);
std::optional<TlsLevel> parse_tls_level(std::string_view text);

}  // namespace dr::conf
