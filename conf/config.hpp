// Typed, immutable configuration (SPEC §8). The TOML loader in config.cpp
// turns a file into a Config or throws ConfigError carrying
// "file:line:column: message". Each component receives only its own part.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace dr::conf {

// TLS security level per destination, as Postfix names them (SPEC §5).
enum class TlsLevel { dane_only, dane, encrypt, verify, may, none };

struct ServerConfig {
    std::vector<std::string> listen{"127.0.0.1:10025", "[::1]:10025"};
    std::vector<std::string> allowed_clients{"127.0.0.0/8", "::1/128"};
    std::string hostname;  // empty: the machine's host name
    std::uint64_t max_message_size = 50ull * 1024 * 1024;
    std::string user = "dane-relay";
};

struct SpoolConfig {
    std::string dir = "/var/spool/dane-relay";
};

struct QueueConfig {
    std::chrono::seconds minimal_backoff{5 * 60};
    std::chrono::seconds maximal_backoff{60 * 60};
    std::chrono::seconds maximal_queue_lifetime{5 * 24 * 60 * 60};
};

struct DnsConfig {
    std::string unbound_conf;             // optional unbound.conf (private roots, tests)
    std::vector<std::string> forwarders;  // forward, still validate locally
    std::string trust_anchor_file;        // RFC 5011 managed root anchor
    std::chrono::milliseconds query_timeout{10'000};
};

struct TlsServerConfig {
    std::string cert;
    std::string key;
};

struct DomainPolicy {
    TlsLevel level = TlsLevel::dane;
    std::string nexthop;  // "[host]:port" or "host": skips the MX lookup
};

struct PolicyConfig {
    TlsLevel default_level = TlsLevel::dane;
    TlsLevel insecure_mx_policy = TlsLevel::dane;  // dane | encrypt | may
    std::map<std::string, DomainPolicy> domains;   // keys lower-case, no trailing dot

    // The policy for a recipient domain: the exact entry, else the default.
    DomainPolicy for_domain(const std::string& domain) const;
};

struct LogConfig {
    std::string target = "syslog";  // syslog | stderr | file:/path
    std::string syslog_name = "dane-relay";
    std::string json;  // optional path for JSON evidence lines
};

struct Config {
    ServerConfig server;
    SpoolConfig spool;
    QueueConfig queue;
    DnsConfig dns;
    TlsServerConfig tls;
    PolicyConfig policy;
    LogConfig log;
};

class ConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

const char* to_string(TlsLevel level);
std::optional<TlsLevel> parse_tls_level(std::string_view text);

}  // namespace dr::conf
