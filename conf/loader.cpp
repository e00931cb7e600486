// The TOML loader: walks the parsed document section by section, converts each
// key with the pure parsers of values.hpp / address.hpp, and collects every
// problem (unknown key, wrong type, bad value, failed cross-check) with its
// position. Any problem at all means a ConfigError and no Config.
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "conf/config.hpp"

namespace dr::conf {

namespace {

using std::string_view_literals::operator""sv;

// Control characters from the file (a "\n" escape in a value) become \xNN so
// each problem stays one line of the log and of ConfigError::what().
std::string printable(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u != 0x7f) {
            out += c;
        } else {
            out += "\\x";
            out += kHex[u >> 4];
            out += kHex[u & 15];
        }
    }
    return out;
}

// Collects problems with their positions; raise() throws them in file order.
class Reporter {
  public:
    explicit Reporter(std::string_view source) : source_(source) {}

    void add(const toml::source_position& where, const std::string& text) {
        std::string message = printable(text);
        // Implicit tables (a [a.b] header without [a]) have no position.
        std::uint32_t line = where.line ? where.line : 1, column = where.line ? where.column : 1;
        problems_.push_back({line, column,
                             source_ + ":" + std::to_string(line) + ":" + std::to_string(column) +
                                 ": " + std::move(message)});
    }

    void raise_if_any() {
        if (problems_.empty()) return;
        std::stable_sort(problems_.begin(), problems_.end(), [](const auto& a, const auto& b) {
            return std::tie(a.line, a.column) < std::tie(b.line, b.column);
        });
        std::vector<std::string> lines;
        for (auto& p : problems_) lines.push_back(std::move(p.text));
        throw ConfigError(std::move(lines));
    }

  private:
    struct Problem {
        std::uint32_t line, column;
        std::string text;
    };
    std::string source_;
    std::vector<Problem> problems_;
};

std::string type_name(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::date:
            return "a date";
        case toml::node_type::time:
            return "a time";
        case toml::node_type::date_time:
            return "a date-time";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::table:
            return "a table";
        case toml::node_type::none:
            break;
    }
    return "nothing";
}

// "server" + "listen" -> server.listen; keys that need quotes in TOML keep them.
std::string join_key(std::string_view prefix, std::string_view key) {
    bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
    // Appended: "..." + std::string gives a false -Wrestrict at -O3 (GCC 12, bug 105329).
    std::string out(prefix);
    if (!out.empty()) out += '.';
    if (bare) return out.append(key);
    return out.append(1, '"').append(key).append(1, '"');
}

// One TOML table being read: hands out its keys and, at the end, reports every
// key nobody asked for. Strictness lives here so no section can forget it.
class Section {
  public:
    Section(Reporter& r, const toml::table& t, std::string path)
        : reporter_(r), table_(t), path_(std::move(path)) {}

    const toml::node* get(std::string_view key) {
        used_.insert(std::string(key));
        return table_.get(key);
    }
    std::string path(std::string_view key) const { return join_key(path_, key); }
    Reporter& reporter() { return reporter_; }

    void error(const toml::node& n, std::string_view key, const std::string& message) {
        reporter_.add(n.source().begin, path(key) + ": " + message);
        ++errors_;
    }
    // Problems reported for this table's own keys; cross-checks skip pairs
    // whose members already failed, so one mistake gives one message.
    unsigned errors() const { return errors_; }
    void type_error(const toml::node& n, std::string_view key, std::string_view expected) {
        error(n, key, "expected " + std::string(expected) + ", got " + type_name(n));
    }

    void reject_unknown_keys() {
        for (auto&& [key, node] : table_)
            if (!used_.contains(std::string(key.str())))
                reporter_.add(key.source().begin, "unknown key " + path(key.str()));
    }

  private:
    Reporter& reporter_;
    const toml::table& table_;
    std::string path_;
    std::set<std::string, std::less<>> used_;
    unsigned errors_ = 0;
};

// Reads key with convert(node), which returns nullopt for a node of the wrong
// type and throws ValueError for a bad value; either is reported at the
// value's position and out keeps its default. True when out was set.
template <class T, class Convert>
bool read_value(Section& s, std::string_view key, T& out, std::string_view expected,
                Convert convert) {
    const toml::node* n = s.get(key);
    if (!n) return false;
    try {
        std::optional<T> value = convert(*n);
        if (!value) {
            s.type_error(*n, key, expected);
            return false;
        }
        out = std::move(*value);
        return true;
    } catch (const ValueError& e) {
        s.error(*n, key, e.what());
        return false;
    }
}

// A string key converted by parse(std::string_view).
template <class T, class Parse>
bool read_string(Section& s, std::string_view key, T& out, Parse parse) {
    return read_value(s, key, out, "a string", [&](const toml::node& n) -> std::optional<T> {
        if (const auto* str = n.as_string()) return parse(str->get());
        return std::nullopt;
    });
}

// An array of strings; each element is parsed and reported on its own.
template <class T, class Parse>
void read_string_array(Section& s, std::string_view key, std::vector<T>& out, Parse parse) {
    const toml::node* n = s.get(key);
    if (!n) return;
    const auto* arr = n->as_array();
    if (!arr) return s.type_error(*n, key, "an array of strings");
    std::vector<T> values;
    for (const auto& element : *arr) {
        const auto* str = element.as_string();
        if (!str) {
            s.error(element, key, "expected a string element, got " + type_name(element));
            continue;
        }
        try {
            values.push_back(parse(str->get()));
        } catch (const ValueError& e) {
            s.error(element, key, e.what());
        }
    }
    out = std::move(values);
}

// A boolean: true or false.
void read_bool(Section& s, std::string_view key, bool& out) {
    read_value(s, key, out, "true or false", [](const toml::node& n) -> std::optional<bool> {
        if (const auto* b = n.as_boolean()) return b->get();
        return std::nullopt;
    });
}

// A duration: a string with a unit ("5m") or an integer number of seconds; at least min.
bool read_duration(Section& s, std::string_view key, std::chrono::seconds& out,
                   std::chrono::seconds min) {
    using std::chrono::seconds;
    return read_value(
        s, key, out, "a duration such as \"5m\"",
        [&](const toml::node& n) -> std::optional<seconds> {
            seconds value{};
            if (const auto* i = n.as_integer()) {
                if (i->get() < 0 || i->get() > std::numeric_limits<std::int32_t>::max())
                    throw ValueError("bad duration " + std::to_string(i->get()) +
                                     ": must be 0..2147483647 seconds");
                value = seconds(i->get());
            } else if (const auto* str = n.as_string()) {
                value = parse_duration(str->get());
            } else {
                return std::nullopt;
            }
            if (value < min)
                throw ValueError("must be at least " + std::to_string(min.count()) + "s");
            return value;
        });
}

// A size: a string with an optional unit ("50M") or an integer number of bytes; at least 1.
void read_size(Section& s, std::string_view key, std::uint64_t& out) {
    read_value(s, key, out, "a size such as \"50M\"",
               [](const toml::node& n) -> std::optional<std::uint64_t> {
                   std::uint64_t value = 0;
                   if (const auto* i = n.as_integer()) {
                       // Through the text parser, so both forms share one range check.
                       if (i->get() < 0) throw ValueError("bad size " + std::to_string(i->get()));
                       value = parse_size(std::to_string(i->get()));
                   } else if (const auto* str = n.as_string()) {
                       value = parse_size(str->get());
                   } else {
                       return std::nullopt;
                   }
                   if (value == 0) throw ValueError("must be at least 1 byte");
                   return value;
               });
}

// An integer count in [min, max].
void read_count(Section& s, std::string_view key, unsigned& out, unsigned min, unsigned max) {
    read_value(s, key, out, "an integer", [&](const toml::node& n) -> std::optional<unsigned> {
        const auto* i = n.as_integer();
        if (!i) return std::nullopt;
        if (i->get() < min || i->get() > max)
            throw ValueError("must be " + std::to_string(min) + ".." + std::to_string(max) +
                             ", not " + std::to_string(i->get()));
        return static_cast<unsigned>(i->get());
    });
}

// Optional path: "" means unset, anything else must be absolute.
void read_optional_path(Section& s, std::string_view key, std::string& out) {
    read_string(s, key, out, [](std::string_view v) {
        return v.empty() ? std::string() : parse_absolute_path(v);
    });
}

// A table-valued key (a section). Reports a wrong type; nullptr when absent.
const toml::table* get_table(Section& parent, std::string_view key) {
    const toml::node* n = parent.get(key);
    if (!n) return nullptr;
    if (!n->is_table()) parent.type_error(*n, key, "a table");
    return n->as_table();
}

TlsLevel parse_level(std::string_view text) {
    if (auto l = parse_tls_level(text)) return *l;
    throw ValueError("bad TLS level \"" + std::string(text) +
                     "\": expected dane-only, dane, encrypt, verify, may or none");
}

TlsLevel parse_insecure_mx_level(std::string_view text) {
    // RFC 7672 2.2.1: with an insecure MX RRset only these make sense; the
    // DNSSEC-or-nothing levels would defer every such domain.
    auto l = parse_tls_level(text);
    if (l == TlsLevel::dane || l == TlsLevel::encrypt || l == TlsLevel::may) return *l;
    throw ValueError("bad TLS level \"" + std::string(text) + "\": expected dane, encrypt or may");
}

std::string parse_user(std::string_view text) {
    // Portable user names (POSIX 3.437) plus Samba's trailing "$"; empty: keep the starting user.
    bool ok =
        text.empty() || (text.front() != '-' && std::all_of(text.begin(), text.end(), [](char c) {
                             return std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                                    c == '_' || c == '-' || c == '$';
                         }));
    if (!ok) throw ValueError("bad user name \"" + std::string(text) + "\"");
    return std::string(text);
}

std::string parse_syslog_name(std::string_view text) {
    // It becomes the tag of "name/smtpd[pid]:"; blanks, ':' and '[' would break parsers.
    bool ok = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isgraph(static_cast<unsigned char>(c)) && c != ':' && c != '[' && c != ']';
    });
    if (!ok)
        throw ValueError("bad syslog name \"" + std::string(text) +
                         "\": printable, no blanks, ':' or brackets");
    return std::string(text);
}

void read_server(Section& s, ServerConfig& out) {
    read_string_array(s, "listen", out.listen,
                      [](std::string_view v) { return parse_endpoint(v); });
    if (const auto* n = s.get("listen"); n && n->is_array() && n->as_array()->empty())
        s.error(*n, "listen", "at least one address is needed");
    read_string_array(s, "allowed_clients", out.allowed_clients, parse_cidr);
    read_string(s, "hostname", out.hostname,
                [](std::string_view v) { return v.empty() ? std::string() : parse_domain(v); });
    read_size(s, "max_message_size", out.max_message_size);
    read_string(s, "user", out.user, parse_user);
    read_bool(s, "allow_root", out.allow_root);
    read_count(s, "max_recipients", out.max_recipients, 1, 1'000'000);
    read_duration(s, "command_timeout", out.command_timeout, std::chrono::seconds(1));
    read_count(s, "max_connections", out.max_connections, 1, 100'000);
    read_count(s, "max_connections_per_client", out.max_connections_per_client, 1, 100'000);
    read_duration(s, "session_timeout", out.session_timeout, std::chrono::seconds(1));
    read_count(s, "max_unallowed_connections", out.max_unallowed_connections, 0, 100'000);
    read_count(s, "junk_command_limit", out.junk_command_limit, 0, 1'000'000);
    read_optional_path(s, "auth_users", out.auth_users);
    if (read_duration(s, "in_flow_delay", out.in_flow_delay, std::chrono::seconds(0)) &&
        out.in_flow_delay > std::chrono::seconds(10))
        s.error(*s.get("in_flow_delay"), "in_flow_delay", "must be at most 10s (as Postfix)");
}

void read_spool(Section& s, SpoolConfig& out) {
    read_string(s, "dir", out.dir, parse_absolute_path);
}

void read_queue(Section& s, QueueConfig& out) {
    constexpr std::chrono::seconds one{1}, zero{0};
    unsigned before = s.errors();
    bool min_set = read_duration(s, "minimal_backoff", out.minimal_backoff, one);
    read_duration(s, "maximal_backoff", out.maximal_backoff, one);
    read_duration(s, "maximal_queue_lifetime", out.maximal_queue_lifetime, zero);
    read_duration(s, "delay_warning_time", out.delay_warning_time, zero);
    read_count(s, "concurrency", out.concurrency, 1, 100'000);
    read_count(s, "destination_concurrency", out.destination_concurrency, 1, 100'000);
    read_count(s, "slow_concurrency", out.slow_concurrency, 1, 100'000);
    read_duration(s, "slow_attempt_time", out.slow_attempt_time, one);
    if (s.errors() == before && out.minimal_backoff > out.maximal_backoff) {
        // Report where the operator wrote the value that breaks the pair.
        auto key = min_set ? "minimal_backoff"sv : "maximal_backoff"sv;
        if (const auto* n = s.get(key))
            s.error(*n, key,
                    "minimal_backoff (" + std::to_string(out.minimal_backoff.count()) +
                        "s) is longer than maximal_backoff (" +
                        std::to_string(out.maximal_backoff.count()) + "s)");
    }
}

void read_smtp(Section& s, SmtpClientConfig& out) {
    constexpr std::chrono::seconds one{1};
    for (auto [key, value] : {std::pair{"connect_timeout", &out.connect_timeout},
                              {"helo_timeout", &out.helo_timeout},
                              {"starttls_timeout", &out.starttls_timeout},
                              {"mail_timeout", &out.mail_timeout},
                              {"rcpt_timeout", &out.rcpt_timeout},
                              {"data_init_timeout", &out.data_init_timeout},
                              {"data_xfer_timeout", &out.data_xfer_timeout},
                              {"data_done_timeout", &out.data_done_timeout},
                              {"rset_timeout", &out.rset_timeout},
                              {"quit_timeout", &out.quit_timeout},
                              {"attempt_timeout", &out.attempt_timeout}})
        read_duration(s, key, *value, one);
    // RFC 5321 §4.5.3.1.5: a reply line may have 512 octets; fewer would refuse valid replies.
    read_count(s, "line_length_limit", out.line_length_limit, 512, 1'000'000);
    read_count(s, "reply_lines_limit", out.reply_lines_limit, 1, 100'000);
    read_size(s, "reply_size_limit", out.reply_size_limit);
    read_count(s, "mx_address_limit", out.mx_address_limit, 0, 1000);
    read_count(s, "mx_session_limit", out.mx_session_limit, 0, 1000);
    read_duration(s, "connection_cache_time_limit", out.connection_cache_time_limit,
                  std::chrono::seconds(0));
    read_duration(s, "connection_reuse_time_limit", out.connection_reuse_time_limit, one);
}

void read_dns(Section& s, DnsConfig& out) {
    read_optional_path(s, "unbound_conf", out.unbound_conf);
    read_string_array(s, "forwarders", out.forwarders,
                      [](std::string_view v) { return parse_endpoint(v, 53); });
    read_optional_path(s, "trust_anchor_file", out.trust_anchor_file);
    read_optional_path(s, "resolv_conf", out.resolv_conf);
    std::chrono::seconds timeout{};
    if (read_duration(s, "query_timeout", timeout, std::chrono::seconds(1)))
        out.query_timeout = timeout;
}

void read_tls(Section& s, TlsServerConfig& out) {
    unsigned before = s.errors();
    read_optional_path(s, "cert", out.cert);
    read_optional_path(s, "key", out.key);
    read_optional_path(s, "ca_file", out.ca_file);
    if (s.errors() == before && out.cert.empty() != out.key.empty()) {
        auto [set, unset] =
            out.cert.empty() ? std::pair{"key"sv, "cert"sv} : std::pair{"cert"sv, "key"sv};
        if (const auto* n = s.get(set))
            s.error(*n, set, "set without tls." + std::string(unset) + " (give both or neither)");
    }
}

// One [policy.domains] entry: "level" or { level = "...", nexthop = "..." }.
void read_domain_policy(Section& domains, std::string_view key, const toml::node& n,
                        DomainPolicy& out) {
    if (const auto* str = n.as_string()) {
        try {
            out.level = parse_level(str->get());
        } catch (const ValueError& e) {
            domains.error(n, key, e.what());
        }
        return;
    }
    const auto* t = n.as_table();
    if (!t) return domains.type_error(n, key, "a TLS level or a table { level, nexthop }");
    Section entry(domains.reporter(), *t, domains.path(key));
    read_string(entry, "level", out.level, parse_level);
    read_string(entry, "nexthop", out.nexthop,
                [](std::string_view v) { return std::optional<Nexthop>(parse_nexthop(v)); });
    entry.reject_unknown_keys();
}

void read_domains(Section& policy, const toml::table& table, PolicyConfig& out) {
    Section s(policy.reporter(), table, policy.path("domains"));
    // Canonical name -> the key as written and where; toml++ iterates in key
    // order, not file order, so the later of two clashing keys is looked up.
    std::map<std::string, std::pair<std::string, toml::source_position>> seen;
    for (auto&& [key, node] : table) {
        std::string domain;
        try {
            domain = parse_domain(key.str());
        } catch (const ValueError& e) {
            s.reporter().add(key.source().begin, s.path(key.str()) + ": " + e.what());
            s.get(key.str());
            continue;
        }
        std::pair<std::string, toml::source_position> here{key.str(), key.source().begin};
        if (auto [it, fresh] = seen.emplace(domain, here); !fresh) {
            // Keys that differ only in case or a trailing dot: report the later one.
            auto later = std::max(it->second, here, [](auto& a, auto& b) {
                return std::tie(a.second.line, a.second.column) <
                       std::tie(b.second.line, b.second.column);
            });
            s.reporter().add(later.second, s.path(later.first) + ": duplicate entry for " + domain);
        }
        // Entries without a level of their own take [policy] default (read first).
        DomainPolicy p{out.default_level, {}};
        read_domain_policy(s, key.str(), *s.get(key.str()), p);
        out.domains[domain] = p;
    }
    s.reject_unknown_keys();
}

void read_policy(Section& s, PolicyConfig& out) {
    read_string(s, "default", out.default_level, parse_level);
    read_string(s, "insecure_mx_policy", out.insecure_mx_policy, parse_insecure_mx_level);
    if (const auto* t = get_table(s, "domains")) read_domains(s, *t, out);
}

void read_sts(Section& s, StsConfig& out) {
    read_bool(s, "enabled", out.enabled);
}

void read_requiretls(Section& s, RequireTlsConfig& out) {
    read_bool(s, "offer", out.offer);
    read_string(s, "tls_required_no", out.honour_tls_required_no, [](std::string_view v) {
        if (v == "honour") return true;
        if (v == "ignore") return false;
        throw ValueError("want \"honour\" or \"ignore\", not \"" + std::string(v) + "\"");
    });
}

void read_tlsrpt(Section& s, TlsrptConfig& out) {
    read_bool(s, "enabled", out.enabled);
    auto text = [](std::string_view v) { return std::string(v); };
    read_string(s, "organization", out.organization, text);
    read_string(s, "contact", out.contact, text);
    read_string(s, "from", out.from,
                [](std::string_view v) { return v.empty() ? std::string() : parse_mailbox(v); });
}

void read_log(Section& s, LogConfig& out) {
    read_string(s, "target", out.target, parse_log_target);
    read_string(s, "syslog_name", out.syslog_name, parse_syslog_name);
    read_optional_path(s, "json", out.json);
    read_value(s, "tls_feature_status", out.tls_feature_status, "a boolean",
               [](const toml::node& n) -> std::optional<bool> {
                   if (const auto* b = n.as_boolean()) return b->get();
                   return std::nullopt;
               });
}

// "" (the default) leaves the page off; the address must not be one [server] listens on.
void read_metrics(Section& s, MetricsConfig& out, const ServerConfig& server) {
    unsigned before = s.errors();
    read_string(s, "listen", out.listen, [](std::string_view v) {
        return v.empty() ? std::optional<Endpoint>() : std::optional(parse_endpoint(v));
    });
    if (s.errors() != before || !out.listen) return;
    if (std::find(server.listen.begin(), server.listen.end(), *out.listen) != server.listen.end())
        s.error(*s.get("listen"), "listen",
                out.listen->to_string() + " is also a [server] listen address");
}

// Reads one top-level section with its reader, then rejects its unknown keys.
template <class T, class Read>
void read_section(Section& root, std::string_view name, T& out, Read read) {
    const toml::table* t = get_table(root, name);
    if (!t) return;
    Section s(root.reporter(), *t, std::string(name));
    read(s, out);
    s.reject_unknown_keys();
}

Config read_document(const toml::table& doc, Reporter& reporter) {
    Config cfg;
    Section root(reporter, doc, "");
    read_section(root, "server", cfg.server, read_server);
    read_section(root, "spool", cfg.spool, read_spool);
    read_section(root, "queue", cfg.queue, read_queue);
    read_section(root, "smtp", cfg.smtp, read_smtp);
    read_section(root, "dns", cfg.dns, read_dns);
    read_section(root, "tls", cfg.tls, read_tls);
    read_section(root, "policy", cfg.policy, read_policy);
    read_section(root, "sts", cfg.sts, read_sts);
    read_section(root, "requiretls", cfg.requiretls, read_requiretls);
    read_section(root, "tlsrpt", cfg.tlsrpt, read_tlsrpt);
    read_section(root, "log", cfg.log, read_log);
    read_section(root, "metrics", cfg.metrics,
                 [&](Section& s, MetricsConfig& out) { read_metrics(s, out, cfg.server); });
    root.reject_unknown_keys();
    // SPEC §3: AUTH only after STARTTLS, so a users file without a certificate is a mistake.
    if (!cfg.server.auth_users.empty() && cfg.tls.cert.empty())
        if (const auto* n = doc.at_path("server.auth_users").node())
            reporter.add(n->source().begin,
                         "server.auth_users: needs [tls] cert and key (AUTH is offered only "
                         "after STARTTLS)");
    if (cfg.server.hostname.empty()) cfg.server.hostname = default_hostname();
    return cfg;
}

}  // namespace

Config parse_config(std::string_view text, std::string_view source_name) {
    Reporter reporter(source_name);
    toml::table doc;
    try {
        doc = toml::parse(text, source_name);
    } catch (const toml::parse_error& e) {
        reporter.add(e.source().begin, std::string(e.description()));
        reporter.raise_if_any();
    }
    Config cfg = read_document(doc, reporter);
    reporter.raise_if_any();
    return cfg;
}

Config load_config(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError({path + ": cannot open: " + std::strerror(errno)});
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw ConfigError({path + ": cannot read: " + std::strerror(errno)});
    return parse_config(text.str(), path);
}

}  // namespace dr::conf
