// The TOML loader: every key, every kind of refusal with its file:line:column,
// unknown keys at each level, syntax errors, several problems at once.
#include <gtest/gtest.h>

#include "conf/config.hpp"

using namespace dr::conf;
using std::chrono::seconds;

namespace {
// The ConfigError text for a document, or "no error".
std::string error(std::string_view text) {
    try {
        parse_config(text, "t.toml");
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "no error";
}

struct Case {
    const char* toml;
    const char* message;  // after "t.toml:"
};

void expect_errors(std::initializer_list<Case> cases) {
    for (const auto& c : cases)
        EXPECT_EQ(error(c.toml), std::string("t.toml:") + c.message) << c.toml;
}
}  // namespace

// SPEC §8 verbatim: the contract's own example must load.
constexpr const char* kSpecExample = R"(
[server]
listen = ["127.0.0.1:10025", "[::1]:10025"]
allowed_clients = ["127.0.0.0/8", "::1/128"]
hostname = "relay.example.org"     # banner and EHLO name; default: the host name
max_message_size = "50M"
user = "dane-relay"                # privileges dropped to it after binding, when started as root

[spool]
dir = "/var/spool/dane-relay"

[queue]
minimal_backoff = "5m"             # durations: 30s, 5m, 1h, 5d
maximal_backoff = "1h"
maximal_queue_lifetime = "5d"

[dns]
unbound_conf = ""                  # optional unbound.conf: private roots, stub zones, tests
forwarders = []                    # optional: forward queries, still validate locally
trust_anchor_file = ""             # optional root anchor file kept fresh by RFC 5011

[tls]                              # inbound STARTTLS, optional
cert = ""
key = ""

[policy]
default = "dane"                   # dane-only | dane | encrypt | verify | may | none
insecure_mx_policy = "dane"        # dane | encrypt | may
[policy.domains]
"example.org" = "dane-only"
"partner.example" = { level = "encrypt", nexthop = "[mx.partner.example]:2525" }

[log]
target = "syslog"                  # syslog | stderr | "file:/path/to/maillog"
syslog_name = "dane-relay"
json = ""                          # optional path: one JSON line per delivery attempt
)";

TEST(Loader, SpecExampleLoads) {
    Config c = parse_config(kSpecExample, "spec.toml");
    Config expected;
    expected.server.hostname = "relay.example.org";
    expected.policy.domains["example.org"] = {TlsLevel::dane_only, std::nullopt};
    expected.policy.domains["partner.example"] = {TlsLevel::encrypt,
                                                  parse_nexthop("[mx.partner.example]:2525")};
    EXPECT_EQ(c, expected);
}

TEST(Loader, EveryKeyIsRead) {
    Config c = parse_config(R"(
[server]
listen = ["0.0.0.0:25", "[2001:db8::1]:2525"]
allowed_clients = ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"]
hostname = "Relay.Example.ORG."
max_message_size = 1048576
user = ""
allow_root = true
max_recipients = 50
command_timeout = 60
max_connections = 7
max_connections_per_client = 3
session_timeout = "10m"
max_unallowed_connections = 0
junk_command_limit = 7
in_flow_delay = "3s"
[spool]
dir = "/srv/spool"
[queue]
minimal_backoff = "30s"
maximal_backoff = "2h"
maximal_queue_lifetime = 0
delay_warning_time = "4h"
concurrency = 8
destination_concurrency = 2
slow_concurrency = 3
slow_attempt_time = "2m"
[smtp]
connect_timeout = "5s"
helo_timeout = 6
starttls_timeout = "7s"
mail_timeout = "8s"
rcpt_timeout = "9s"
data_init_timeout = "10s"
data_xfer_timeout = "11s"
data_done_timeout = "12s"
rset_timeout = "13s"
quit_timeout = "14s"
attempt_timeout = "15m"
line_length_limit = 512
reply_lines_limit = 3
reply_size_limit = "1k"
mx_address_limit = 0
mx_session_limit = 9
connection_cache_time_limit = 0
connection_reuse_time_limit = "1m"
[dns]
unbound_conf = "/etc/dane-relay/unbound.conf"
forwarders = ["192.0.2.53", "[2001:db8::53]:5353"]
trust_anchor_file = "/var/lib/dane-relay/root.key"
resolv_conf = "/run/dane-relay/resolv.conf"
query_timeout = "3s"
[tls]
cert = "/etc/dane-relay/cert.pem"
key = "/etc/dane-relay/key.pem"
ca_file = "/etc/dane-relay/ca.pem"
[sts]
enabled = false
[tlsrpt]
enabled = true
organization = "Example Org"
contact = "mailto:tls@example.org"
from = "tlsrpt@Example.ORG"
[policy]
default = "may"
insecure_mx_policy = "encrypt"
[policy.domains]
"Example.ORG." = "verify"
"a.example" = { nexthop = "b.example:587" }
"c.example" = { level = "none" }
[log]
target = "file:/var/log/dane-relay.log"
syslog_name = "relay-b"
json = "/var/log/dane-relay.json"
tls_feature_status = false
)",
                            "t.toml");
    EXPECT_EQ(c.server.listen,
              (std::vector{parse_endpoint("0.0.0.0:25"), parse_endpoint("[2001:db8::1]:2525")}));
    EXPECT_EQ(c.server.allowed_clients,
              (std::vector{parse_cidr("192.0.2.0/24"), parse_cidr("2001:db8::/32"),
                           parse_cidr("198.51.100.7/32")}));
    EXPECT_EQ(c.server.hostname, "relay.example.org");
    EXPECT_EQ(c.server.max_message_size, 1048576u);
    EXPECT_EQ(c.server.user, "");
    EXPECT_TRUE(c.server.allow_root);
    EXPECT_EQ(c.server.max_recipients, 50u);
    EXPECT_EQ(c.server.command_timeout, seconds(60));
    EXPECT_EQ(c.server.max_connections, 7u);
    EXPECT_EQ(c.server.max_connections_per_client, 3u);
    EXPECT_EQ(c.spool.dir, "/srv/spool");
    EXPECT_EQ(c.queue.minimal_backoff, seconds(30));
    EXPECT_EQ(c.queue.maximal_backoff, seconds(7200));
    EXPECT_EQ(c.queue.maximal_queue_lifetime, seconds(0));
    EXPECT_EQ(c.queue.delay_warning_time, seconds(4 * 3600));
    EXPECT_EQ(c.queue.concurrency, 8u);
    EXPECT_EQ(c.queue.destination_concurrency, 2u);
    EXPECT_EQ(c.server.session_timeout, seconds(600));
    EXPECT_EQ(c.server.max_unallowed_connections, 0u);
    EXPECT_EQ(c.server.junk_command_limit, 7u);
    EXPECT_EQ(c.server.in_flow_delay, seconds(3));
    EXPECT_EQ(c.queue.slow_concurrency, 3u);
    EXPECT_EQ(c.queue.slow_attempt_time, seconds(120));
    const auto& m = c.smtp;
    EXPECT_EQ(
        (std::vector{m.connect_timeout, m.helo_timeout, m.starttls_timeout, m.mail_timeout,
                     m.rcpt_timeout, m.data_init_timeout, m.data_xfer_timeout, m.data_done_timeout,
                     m.rset_timeout, m.quit_timeout}),
        (std::vector<seconds>{seconds(5), seconds(6), seconds(7), seconds(8), seconds(9),
                              seconds(10), seconds(11), seconds(12), seconds(13), seconds(14)}));
    EXPECT_EQ(m.attempt_timeout, seconds(900));
    EXPECT_EQ(m.line_length_limit, 512u);
    EXPECT_EQ(m.reply_lines_limit, 3u);
    EXPECT_EQ(m.reply_size_limit, 1024u);
    EXPECT_EQ(m.mx_address_limit, 0u);
    EXPECT_EQ(m.mx_session_limit, 9u);
    EXPECT_EQ(m.connection_cache_time_limit, seconds(0));
    EXPECT_EQ(m.connection_reuse_time_limit, seconds(60));
    EXPECT_EQ(c.dns.unbound_conf, "/etc/dane-relay/unbound.conf");
    EXPECT_EQ(c.dns.forwarders, (std::vector{parse_endpoint("192.0.2.53:53"),
                                             parse_endpoint("[2001:db8::53]:5353")}));
    EXPECT_EQ(c.dns.trust_anchor_file, "/var/lib/dane-relay/root.key");
    EXPECT_EQ(c.dns.resolv_conf, "/run/dane-relay/resolv.conf");
    EXPECT_EQ(c.dns.query_timeout, std::chrono::milliseconds(3000));
    EXPECT_EQ(c.tls.cert, "/etc/dane-relay/cert.pem");
    EXPECT_EQ(c.tls.key, "/etc/dane-relay/key.pem");
    EXPECT_EQ(c.tls.ca_file, "/etc/dane-relay/ca.pem");
    EXPECT_FALSE(c.sts.enabled);
    EXPECT_TRUE(c.tlsrpt.enabled);
    EXPECT_EQ(c.tlsrpt.organization, "Example Org");
    EXPECT_EQ(c.tlsrpt.contact, "mailto:tls@example.org");
    EXPECT_EQ(c.tlsrpt.from, "tlsrpt@example.org");
    EXPECT_EQ(c.policy.default_level, TlsLevel::may);
    EXPECT_EQ(c.policy.insecure_mx_policy, TlsLevel::encrypt);
    ASSERT_EQ(c.policy.domains.size(), 3u);
    EXPECT_EQ(c.policy.domains.at("example.org").level, TlsLevel::verify);
    EXPECT_FALSE(c.policy.domains.at("example.org").nexthop.has_value());
    // A table without level takes [policy] default.
    EXPECT_EQ(c.policy.domains.at("a.example").level, TlsLevel::may);
    EXPECT_EQ(c.policy.domains.at("a.example").nexthop, parse_nexthop("b.example:587"));
    EXPECT_EQ(c.policy.domains.at("c.example").level, TlsLevel::none);
    EXPECT_EQ(c.log.target.kind, LogTarget::Kind::file);
    EXPECT_EQ(c.log.target.path, "/var/log/dane-relay.log");
    EXPECT_EQ(c.log.syslog_name, "relay-b");
    EXPECT_EQ(c.log.json, "/var/log/dane-relay.json");
    EXPECT_FALSE(c.log.tls_feature_status);
}

TEST(Loader, DottedAndInlineSectionsWork) {
    Config c = parse_config("server.max_recipients = 5\nqueue = { concurrency = 3 }\n", "t.toml");
    EXPECT_EQ(c.server.max_recipients, 5u);
    EXPECT_EQ(c.queue.concurrency, 3u);
}

TEST(Loader, DefaultPolicyAppliesToEntriesWhateverTheOrder) {
    // [policy.domains] before [policy]'s own keys: the entry still gets "may".
    Config c = parse_config(
        "[policy.domains]\n\"a.example\" = { nexthop = \"[b.example]\" }\n"
        "[policy]\ndefault = \"may\"\n",
        "t.toml");
    EXPECT_EQ(c.policy.domains.at("a.example").level, TlsLevel::may);
}

TEST(Loader, EmptyHostnameMeansTheMachineName) {
    EXPECT_EQ(parse_config("[server]\nhostname = \"\"\n", "t.toml").server.hostname,
              default_hostname());
    EXPECT_FALSE(default_hostname().empty());
}

TEST(Loader, WrongTypes) {
    expect_errors({
        {"server = 1", "1:10: server: expected a table, got an integer"},
        {"[server]\nlisten = \"127.0.0.1:25\"",
         "2:10: server.listen: expected an array of strings, got a string"},
        {"[server]\nlisten = [\"127.0.0.1:25\", 25]",
         "2:27: server.listen: expected a string element, got an integer"},
        {"[server]\nallowed_clients = [[\"::1\"]]",
         "2:20: server.allowed_clients: expected a string element, got an array"},
        {"[server]\nhostname = 1", "2:12: server.hostname: expected a string, got an integer"},
        {"[server]\nmax_message_size = 1.5",
         "2:20: server.max_message_size: expected a size such as \"50M\", got a float"},
        {"[server]\nuser = false", "2:8: server.user: expected a string, got a boolean"},
        {"[server]\nmax_recipients = \"10\"",
         "2:18: server.max_recipients: expected an integer, got a string"},
        {"[server]\ncommand_timeout = 1979-05-27",
         "2:19: server.command_timeout: expected a duration such as \"5m\", got a date"},
        {"[spool]\ndir = []", "2:7: spool.dir: expected a string, got an array"},
        {"[queue]\nminimal_backoff = 07:32:00",
         "2:19: queue.minimal_backoff: expected a duration such as \"5m\", got a time"},
        {"[dns]\nforwarders = \"192.0.2.53\"",
         "2:14: dns.forwarders: expected an array of strings, got a string"},
        {"[tls]\ncert = {}", "2:8: tls.cert: expected a string, got a table"},
        {"[tls]\nca_file = \"ca.pem\"",
         "2:11: tls.ca_file: bad path \"ca.pem\": must be absolute (start with \"/\")"},
        {"[sts]\nenabled = \"yes\"", "2:11: sts.enabled: expected true or false, got a string"},
        {"[sts]\nmode = \"enforce\"", "2:1: unknown key sts.mode"},
        {"[tlsrpt]\nfrom = \"nobody\"",
         "2:8: tlsrpt.from: bad address \"nobody\": expected local@domain"},
        {"[tlsrpt]\nfrom = \"a..b@x.example\"",
         "2:8: tlsrpt.from: bad address \"a..b@x.example\": the local part is not a dot-atom"},
        {"[tlsrpt]\nfrom = \"a@-x\"",
         "2:8: tlsrpt.from: bad domain \"-x\": label \"-x\" starts or ends with a hyphen"},
        {"[policy]\ndomains = []", "2:11: policy.domains: expected a table, got an array"},
        {"[policy.domains]\n\"a.example\" = 3",
         "2:15: policy.domains.\"a.example\": expected a TLS level or a table { level, nexthop }, "
         "got an integer"},
        {"[policy.domains]\n\"a.example\" = { level = 3 }",
         "2:25: policy.domains.\"a.example\".level: expected a string, got an integer"},
        {"[log]\ntarget = 1979-05-27T07:32:00Z",
         "2:10: log.target: expected a string, got a date-time"},
    });
}

TEST(Loader, BadValues) {
    expect_errors({
        {"[server]\nlisten = [\"localhost:25\"]",
         "2:11: server.listen: bad address \"localhost:25\": \"localhost\" is not an IPv4 or IPv6 "
         "address"},
        {"[server]\nlisten = [\"127.0.0.1\"]",
         "2:11: server.listen: bad address \"127.0.0.1\": port required, as in \"127.0.0.1:25\""},
        {"[server]\nlisten = []", "2:10: server.listen: at least one address is needed"},
        {"[server]\nallowed_clients = [\"::1/128\", \"10.1.0.0/8\"]",
         "2:31: server.allowed_clients: bad network \"10.1.0.0/8\": host bits set, did you mean "
         "\"10.0.0.0/8\"?"},
        {"[server]\nhostname = \"relay_1.example\"",
         "2:12: server.hostname: bad domain \"relay_1.example\": \"_\" not allowed (letters, "
         "digits "
         "and hyphens only)"},
        {"[server]\nmax_message_size = \"50MB\"",
         "2:20: server.max_message_size: bad size \"50MB\": unknown unit \"MB\" (k, M or G)"},
        {"[server]\nmax_message_size = 0",
         "2:20: server.max_message_size: must be at least 1 byte"},
        {"[server]\nmax_message_size = \"0k\"",
         "2:20: server.max_message_size: must be at least 1 byte"},
        {"[server]\nmax_message_size = -5", "2:20: server.max_message_size: bad size -5"},
        {"[server]\nmax_message_size = 9007199254740993",
         "2:20: server.max_message_size: bad size \"9007199254740993\": too large"},
        {"[server]\nuser = \"-root\"", "2:8: server.user: bad user name \"-root\""},
        {"[server]\nuser = \"a b\"", "2:8: server.user: bad user name \"a b\""},
        {"[server]\nmax_recipients = 0", "2:18: server.max_recipients: must be 1..1000000, not 0"},
        {"[server]\nmax_connections = 100001",
         "2:19: server.max_connections: must be 1..100000, not 100001"},
        {"[server]\nin_flow_delay = \"11s\"",
         "2:17: server.in_flow_delay: must be at most 10s (as Postfix)"},
        {"[server]\nin_flow_delay = -1",
         "2:17: server.in_flow_delay: bad duration -1: must be 0..2147483647 seconds"},
        {"[server]\nallow_root = \"yes\"",
         "2:14: server.allow_root: expected true or false, got a string"},
        {"[server]\nmax_connections_per_client = -1",
         "2:30: server.max_connections_per_client: must be 1..100000, not -1"},
        {"[server]\ncommand_timeout = \"0s\"", "2:19: server.command_timeout: must be at least 1s"},
        {"[spool]\ndir = \"spool\"",
         "2:7: spool.dir: bad path \"spool\": must be absolute (start with \"/\")"},
        {"[spool]\ndir = \"\"",
         "2:7: spool.dir: bad path \"\": must be absolute (start with \"/\")"},
        {"[queue]\nminimal_backoff = \"5\"",
         "2:19: queue.minimal_backoff: bad duration \"5\": unit missing (s, m, h, d or w)"},
        {"[queue]\nmaximal_backoff = \"1 hour\"",
         "2:19: queue.maximal_backoff: bad duration \"1 hour\": unknown unit \" hour\" (s, m, h, d "
         "or w)"},
        {"[queue]\nmaximal_queue_lifetime = -1",
         "2:26: queue.maximal_queue_lifetime: bad duration -1: must be 0..2147483647 seconds"},
        {"[queue]\nminimal_backoff = 0", "2:19: queue.minimal_backoff: must be at least 1s"},
        {"[queue]\ndelay_warning_time = \"4\"",
         "2:22: queue.delay_warning_time: bad duration \"4\": unit missing (s, m, h, d or w)"},
        {"[queue]\ndelay_warning_time = -5",
         "2:22: queue.delay_warning_time: bad duration -5: must be 0..2147483647 seconds"},
        {"[queue]\ndelay_warning_time = \"3 days\"",
         "2:22: queue.delay_warning_time: bad duration \"3 days\": unknown unit \" days\" (s, m, "
         "h, "
         "d or w)"},
        {"[queue]\nconcurrency = 0", "2:15: queue.concurrency: must be 1..100000, not 0"},
        {"[queue]\ndestination_concurrency = 0",
         "2:27: queue.destination_concurrency: must be 1..100000, not 0"},
        {"[dns]\nunbound_conf = \"unbound.conf\"",
         "2:16: dns.unbound_conf: bad path \"unbound.conf\": must be absolute (start with \"/\")"},
        {"[dns]\nforwarders = [\"dns.example\"]",
         "2:15: dns.forwarders: bad address \"dns.example\": \"dns.example\" is not an IPv4 or "
         "IPv6 "
         "address"},
        {"[dns]\ntrust_anchor_file = \"root.key\"",
         "2:21: dns.trust_anchor_file: bad path \"root.key\": must be absolute (start with \"/\")"},
        {"[dns]\nresolv_conf = \"resolv.conf\"",
         "2:15: dns.resolv_conf: bad path \"resolv.conf\": must be absolute (start with \"/\")"},
        {"[dns]\nquery_timeout = \"0s\"", "2:17: dns.query_timeout: must be at least 1s"},
        {"[smtp]\nhelo_timeout = \"0s\"", "2:16: smtp.helo_timeout: must be at least 1s"},
        {"[smtp]\nline_length_limit = 100",
         "2:21: smtp.line_length_limit: must be 512..1000000, not 100"},
        {"[smtp]\nmx_session_limit = -1", "2:20: smtp.mx_session_limit: must be 0..1000, not -1"},
        {"[smtp]\nconnection_reuse_time_limit = 0",
         "2:31: smtp.connection_reuse_time_limit: must be at least 1s"},
        {"[server]\nsession_timeout = 0", "2:19: server.session_timeout: must be at least 1s"},
        {"[tls]\nkey = \"key.pem\"\ncert = \"/c.pem\"",
         "2:7: tls.key: bad path \"key.pem\": must be absolute (start with \"/\")"},
        {"[policy]\ndefault = \"DANE\"",
         "2:11: policy.default: bad TLS level \"DANE\": expected dane-only, dane, encrypt, verify, "
         "may or none"},
        {"[policy]\ninsecure_mx_policy = \"dane-only\"",
         "2:22: policy.insecure_mx_policy: bad TLS level \"dane-only\": expected dane, encrypt or "
         "may"},
        {"[policy]\ninsecure_mx_policy = \"verify\"",
         "2:22: policy.insecure_mx_policy: bad TLS level \"verify\": expected dane, encrypt or "
         "may"},
        {"[policy.domains]\n\"a.example\" = \"secure\"",
         "2:15: policy.domains.\"a.example\": bad TLS level \"secure\": expected dane-only, dane, "
         "encrypt, verify, may or none"},
        {"[policy.domains]\n\"a.example\" = { nexthop = \"192.0.2.1\" }",
         "2:27: policy.domains.\"a.example\".nexthop: bad next hop \"192.0.2.1\": an address needs "
         "brackets, as in \"[192.0.2.1]\" (there is no MX lookup for an address)"},
        {"[policy.domains]\n\"a.example\" = { nexthop = \"[mx.example]:0\" }",
         "2:27: policy.domains.\"a.example\".nexthop: bad port \"0\": must be 1..65535"},
        {"[policy.domains]\n\"a_b.example\" = \"may\"",
         "2:1: policy.domains.\"a_b.example\": bad domain \"a_b.example\": \"_\" not allowed "
         "(letters, digits and hyphens only)"},
        {"[policy.domains]\n\"192.0.2.1\" = \"may\"",
         "2:1: policy.domains.\"192.0.2.1\": bad domain \"192.0.2.1\": an address, not a domain "
         "name"},
        {"[policy.domains]\n\"a.example\" = \"may\"\n\"A.example.\" = \"none\"",
         "3:1: policy.domains.\"A.example.\": duplicate entry for a.example"},
        {"[log]\ntarget = \"file:maillog\"",
         "2:10: log.target: bad path \"maillog\": must be absolute (start with \"/\")"},
        {"[log]\ntarget = \"journal\"",
         "2:10: log.target: bad log target \"journal\": expected \"syslog\", \"stderr\" or "
         "\"file:/absolute/path\""},
        {"[log]\nsyslog_name = \"\"",
         "2:15: log.syslog_name: bad syslog name \"\": printable, no blanks, ':' or brackets"},
        {"[log]\nsyslog_name = \"dane relay\"",
         "2:15: log.syslog_name: bad syslog name \"dane relay\": printable, no blanks, ':' or "
         "brackets"},
        {"[log]\njson = \"x.json\"",
         "2:8: log.json: bad path \"x.json\": must be absolute (start with \"/\")"},
        {"[log]\ntls_feature_status = \"yes\"",
         "2:22: log.tls_feature_status: expected a boolean, got a string"},
    });
}

TEST(Loader, CrossChecks) {
    expect_errors({
        {"[queue]\nminimal_backoff = \"2h\"",
         "2:19: queue.minimal_backoff: minimal_backoff (7200s) is longer than maximal_backoff "
         "(3600s)"},
        {"[queue]\nmaximal_backoff = \"1m\"",
         "2:19: queue.maximal_backoff: minimal_backoff (300s) is longer than maximal_backoff "
         "(60s)"},
        {"[queue]\nmaximal_backoff = \"1m\"\nminimal_backoff = \"2m\"",
         "3:19: queue.minimal_backoff: minimal_backoff (120s) is longer than maximal_backoff "
         "(60s)"},
        {"[tls]\ncert = \"/etc/c.pem\"",
         "2:8: tls.cert: set without tls.key (give both or neither)"},
        {"[tls]\ncert = \"\"\nkey = \"/etc/k.pem\"",
         "3:7: tls.key: set without tls.cert (give both or neither)"},
    });
    EXPECT_EQ(error("[queue]\nminimal_backoff = \"1h\""), "no error");
    EXPECT_EQ(error("[tls]\ncert = \"/c\"\nkey = \"/k\""), "no error");
}

// SPEC §10: [metrics] listen, off by default; one address, not a [server] one.
TEST(Loader, MetricsListen) {
    EXPECT_FALSE(parse_config("", "t.toml").metrics.listen.has_value());
    EXPECT_FALSE(parse_config("[metrics]\nlisten = \"\"", "t.toml").metrics.listen.has_value());
    EXPECT_EQ(parse_config("[metrics]\nlisten = \"127.0.0.1:9190\"", "t.toml").metrics.listen,
              parse_endpoint("127.0.0.1:9190"));
    EXPECT_EQ(parse_config("[metrics]\nlisten = \"[::1]:9190\"", "t.toml").metrics.listen,
              parse_endpoint("[::1]:9190"));
    expect_errors({
        {"[metrics]\nlisten = [\"127.0.0.1:9190\"]",
         "2:10: metrics.listen: expected a string, got an array"},
        {"[metrics]\nlisten = \"127.0.0.1\"",
         "2:10: metrics.listen: bad address \"127.0.0.1\": port required, as in "
         "\"127.0.0.1:25\""},
        {"[metrics]\nlisten = \"localhost:9190\"",
         "2:10: metrics.listen: bad address \"localhost:9190\": \"localhost\" is not an IPv4 or "
         "IPv6 address"},
        {"[metrics]\nlisten = \"127.0.0.1:0\"",
         "2:10: metrics.listen: bad port \"0\": must be 1..65535"},
        {"[server]\nlisten = [\"127.0.0.1:9190\"]\n[metrics]\nlisten = \"127.0.0.1:9190\"",
         "4:10: metrics.listen: 127.0.0.1:9190 is also a [server] listen address"},
        {"[metrics]\nport = 9190", "2:1: unknown key metrics.port"},
        {"metrics = 9190", "1:11: metrics: expected a table, got an integer"},
    });
}

TEST(Loader, UnknownKeysAtEveryLevel) {
    expect_errors({
        {"listen = []", "1:1: unknown key listen"},
        {"[serve]\nlisten = []", "1:2: unknown key serve"},
        {"[server]\nlisten = [\"127.0.0.1:25\"]\nlisen = []", "3:1: unknown key server.lisen"},
        {"[server.tls]\ncert = \"/c\"", "1:9: unknown key server.tls"},
        {"[spool]\ndirectory = \"/x\"", "2:1: unknown key spool.directory"},
        {"[queue]\nbackoff = \"5m\"", "2:1: unknown key queue.backoff"},
        {"[dns]\nforwarder = []", "2:1: unknown key dns.forwarder"},
        {"[smtp]\ntimeout = \"5s\"", "2:1: unknown key smtp.timeout"},
        {"[tls]\nca = \"/x\"", "2:1: unknown key tls.ca"},
        {"[policy]\ndefaults = \"may\"", "2:1: unknown key policy.defaults"},
        {"[policy.domains]\n\"a.example\" = { level = \"may\", next_hop = \"[b.example]\" }",
         "2:32: unknown key policy.domains.\"a.example\".next_hop"},
        {"[policy.domains.\"a.example\"]\nlevel = \"may\"\nport = 25",
         "3:1: unknown key policy.domains.\"a.example\".port"},
        {"[log]\nfile = \"/x\"", "2:1: unknown key log.file"},
    });
}

TEST(Loader, SyntaxErrorsComeOutAsFileLineColumn) {
    // The message text is toml++'s; the position must be where the problem is.
    auto e = error("[server]\nlisten = [\"127.0.0.1:25\"\n");
    EXPECT_TRUE(e.starts_with("t.toml:2:26: ")) << e;  // at the end of input
    e = error("[server\n");
    EXPECT_TRUE(e.starts_with("t.toml:1:")) << e;
    e = error("[server]\nuser = \"a\"\nuser = \"b\"\n");
    EXPECT_TRUE(e.starts_with("t.toml:3:")) << e;
    EXPECT_NE(e.find("user"), std::string::npos) << e;
    e = error("[spool]\ndir = /var/spool\n");
    EXPECT_TRUE(e.starts_with("t.toml:2:7: ")) << e;
    e = error("a = \"\xff\"\n");
    EXPECT_TRUE(e.starts_with("t.toml:1:")) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << "one line: " << e;
}

TEST(Loader, ControlCharactersInValuesAreEscaped) {
    EXPECT_EQ(
        error("[log]\nsyslog_name = \"a\\nb\\u007f\""),
        "t.toml:2:15: log.syslog_name: bad syslog name \"a\\x0ab\\x7f\": printable, no blanks, "
        "':' or brackets");
}

TEST(Loader, EveryProblemIsReportedInFileOrder) {
    try {
        parse_config(
            "[log]\ntarget = \"x\"\n[server]\nlisen = 1\nmax_recipients = 0\n"
            "[queue]\nminimal_backoff = \"2h\"\n",
            "t.toml");
        FAIL() << "no error";
    } catch (const ConfigError& e) {
        ASSERT_EQ(e.problems().size(), 4u) << e.what();
        EXPECT_TRUE(e.problems()[0].starts_with("t.toml:2:10: log.target:"));
        EXPECT_EQ(e.problems()[1], "t.toml:4:1: unknown key server.lisen");
        EXPECT_TRUE(e.problems()[2].starts_with("t.toml:5:18: server.max_recipients:"));
        EXPECT_TRUE(e.problems()[3].starts_with("t.toml:7:19: queue.minimal_backoff:"));
        EXPECT_EQ(std::string(e.what()), e.problems()[0] + "\n" + e.problems()[1] + "\n" +
                                             e.problems()[2] + "\n" + e.problems()[3]);
    }
}

TEST(Loader, CommentsAndWhitespaceOnlyGiveTheDefaults) {
    Config expected;
    expected.server.hostname = default_hostname();
    EXPECT_EQ(parse_config("# nothing\n\n   \n", "t.toml"), expected);
    EXPECT_EQ(parse_config("[server]\n[policy.domains]\n", "t.toml"), expected);
}

// SPEC §7: the forwarder fallback reads /etc/resolv.conf unless told another file or "".
TEST(Loader, ResolvConfDefaultsToTheSystemsAndEmptyTurnsItOff) {
    EXPECT_EQ(parse_config("", "t.toml").dns.resolv_conf, "/etc/resolv.conf");
    EXPECT_EQ(parse_config("[dns]\nresolv_conf = \"\"\n", "t.toml").dns.resolv_conf, "");
}

// RFC 8689: REQUIRETLS offered by default, "TLS-Required: No" honoured unless told to ignore.
TEST(Loader, RequireTls) {
    const auto d = parse_config("", "t.toml").requiretls;
    EXPECT_TRUE(d.offer);
    EXPECT_TRUE(d.honour_tls_required_no);
    const auto c =
        parse_config("[requiretls]\noffer = false\ntls_required_no = \"ignore\"\n", "t.toml")
            .requiretls;
    EXPECT_FALSE(c.offer);
    EXPECT_FALSE(c.honour_tls_required_no);
    EXPECT_EQ(error("[requiretls]\ntls_required_no = \"honor\"\n"),
              "t.toml:2:19: requiretls.tls_required_no: want \"honour\" or \"ignore\", not "
              "\"honor\"");
    EXPECT_EQ(error("[requiretls]\noffer = 1\n").substr(0, 25), "t.toml:2:9: requiretls.of");
}
