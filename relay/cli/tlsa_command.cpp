// `dane-relay tlsa` (see tlsa_command.hpp): arguments, files and output; the record itself
// comes from dane/tlsa_make.hpp.
#include "relay/cli/tlsa_command.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>

#include "dane/tlsa.hpp"
#include "dane/tlsa_make.hpp"
#include "relay/cli/options.hpp"
#include "relay/cli/tlsa_connect.hpp"

namespace dr::relay {
namespace {

constexpr const char* kUsage =
    "usage: dane-relay tlsa FILE [options]\n"
    "       dane-relay tlsa --connect HOST [--port P] [options]\n"
    "\n"
    "Prints the TLSA record to publish for FILE, a PEM certificate, chain\n"
    "(fullchain.pem, leaf first) or public/private key (RSA or EC), or for the chain a\n"
    "live server presents after STARTTLS (--connect), as a zone-file line:\n"
    "  _25._tcp.mx.example.org. IN TLSA 3 1 1 <hex>\n"
    "The data is that of `ldns-dane create`. From a FILE nothing is looked up and no\n"
    "configuration is read.\n"
    "\n"
    "options:\n"
    "  --usage U      0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE (default 3)\n"
    "  --selector S   0 full certificate, 1 SubjectPublicKeyInfo (default 1; a key\n"
    "                 allows only 1)\n"
    "  --mtype M      0 full data, 1 SHA-256, 2 SHA-512 (default 1)\n"
    "  --ca N         with usage 0 or 2, the chain's certificate to publish: 1 the\n"
    "                 issuer of the leaf (default), 2 the next...; 0 the first\n"
    "                 certificate of FILE (a file holding just the CA)\n"
    "  --host H       the owner's host name (default: the leaf certificate's first\n"
    "                 DNS subjectAltName that is no wildcard; required for a key)\n"
    "  --port P       the owner's port (default 25)\n"
    "  --next FILE    also print the record of the next certificate or key, the\n"
    "                 rollover pair to publish (current + next)\n"
    "  --json         one JSON object: owner, usage, selector, mtype, data (hex); with\n"
    "                 --next also \"records\", the list [current, next] with \"role\";\n"
    "                 with --connect to a name \"address_security\" (secure, insecure)\n"
    "  --connect HOST the chain of the SMTP server HOST (a name, or an IP address that\n"
    "                 is not looked up), port --port, after STARTTLS; nothing is\n"
    "                 verified. A name is resolved by the validating resolver of the\n"
    "                 [dns] settings, as `check` does, and stderr says whether its\n"
    "                 addresses are DNSSEC-secure (bogus ones are refused). SNI and\n"
    "                 owner: --host, else HOST when it is a name, else the leaf's name.\n"
    "                 --usage 2 publishes the issuer from the presented chain\n"
    "  -c FILE        with --connect: the configuration whose [dns] section is used\n"
    "  --unbound-conf FILE  with --connect: unbound.conf for the resolver (overrides\n"
    "                 [dns] unbound_conf)\n"
    "  --timeout S    with --connect: give up after S seconds (default 30)\n"
    "\n"
    "exit status: 0 printed, 1 the input cannot make the record, 2 usage error or a\n"
    "resolver that cannot validate,\n"
    "3 --connect got no chain (unresolvable, unreachable, timeout, no STARTTLS,\n"
    "handshake failure, no certificate)\n";

struct Args {
    std::string file, next, host, connect, unbound_conf;
    dane::TlsaParams params;
    unsigned port = 25;
    unsigned timeout = 30;
    bool json = false;
};

bool parse_number(const std::string& s, unsigned hi, unsigned& out) {
    char* end = nullptr;
    errno = 0;
    unsigned long v = std::strtoul(s.c_str(), &end, 10);
    if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0])) || *end || errno || v > hi)
        return false;
    out = static_cast<unsigned>(v);
    return true;
}

// One "--name VALUE" option; returns an error text or "".
std::string take_value(std::string_view name, const std::string& v, Args& a) {
    unsigned n = 0;
    auto small = [&](unsigned hi, std::uint8_t& field) -> std::string {
        if (!parse_number(v, hi, n))
            return std::string(name) + " must be a number from 0 to " + std::to_string(hi);
        field = static_cast<std::uint8_t>(n);
        return "";
    };
    if (name == "--usage") return small(3, a.params.usage);
    if (name == "--selector") return small(1, a.params.selector);
    if (name == "--mtype") return small(2, a.params.mtype);
    if (name == "--ca") {
        if (!parse_number(v, 100, n)) return "--ca must be a number from 0 to 100";
        a.params.ca = n;
    } else if (name == "--port") {
        if (!parse_number(v, 65535, a.port) || a.port == 0) return "--port needs a port number";
    } else if (name == "--host") {
        if (auto why = dane::domain_name_error(v)) return "--host: " + *why;
        a.host = v;
    } else if (name == "--next") {
        a.next = v;
    } else if (name == "--connect") {
        if (v.empty()) return "--connect needs a host";
        a.connect = v;
    } else if (name == "--unbound-conf") {
        if (v.empty()) return "--unbound-conf needs a file name";
        a.unbound_conf = v;
    } else if (name == "--timeout") {
        if (!parse_number(v, 3600, a.timeout) || a.timeout == 0)
            return "--timeout must be a number of seconds from 1 to 3600";
    }
    return "";
}

bool takes_value(std::string_view name) {
    for (auto n : {"--usage", "--selector", "--mtype", "--ca", "--port", "--host", "--next",
                   "--connect", "--timeout", "--unbound-conf"})
        if (name == n) return true;
    return false;
}

std::string parse_args(const std::vector<std::string>& args, Args& a) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string arg = args[i], value;
        bool inline_value = false;
        if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
            value = arg.substr(eq + 1);
            arg.resize(eq);
            inline_value = true;
        }
        if (arg == "--json" && !inline_value) {
            a.json = true;
        } else if (takes_value(arg)) {
            if (!inline_value && i + 1 >= args.size()) return "missing value after " + arg;
            if (auto e = take_value(arg, inline_value ? value : args[++i], a); !e.empty()) return e;
        } else if (arg.starts_with("-") && arg != "-") {
            return "unknown option " + arg;
        } else if (a.file.empty()) {
            a.file = arg;
        } else {
            return "one FILE only (unexpected '" + arg + "')";
        }
    }
    if (!a.connect.empty() && !a.file.empty()) return "FILE or --connect HOST, not both";
    if (a.connect.empty() && !a.unbound_conf.empty()) return "--unbound-conf needs --connect";
    return a.file.empty() && a.connect.empty() ? "no FILE given" : "";
}

// The whole file (stdin for "-"), or nullopt with `error` set.
std::optional<std::string> read_file(const std::string& name, std::string& error) {
    FILE* f = name == "-" ? stdin : std::fopen(name.c_str(), "rb");
    if (!f) {
        error = name + ": " + std::strerror(errno);
        return std::nullopt;
    }
    std::string text;
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    bool failed = std::ferror(f);
    int saved = errno;
    if (f != stdin) std::fclose(f);
    if (failed) {
        error = name + ": " + std::strerror(saved);
        return std::nullopt;
    }
    return text;
}

struct Made {
    dane::TlsaRecord record;
    std::string host;              // the leaf's name, "" when none
    std::string address_security;  // --connect to a name: "secure" or "insecure"
};

// Makes the record from PEM text read from `source`; nullopt after the message was printed.
std::optional<Made> make_from_text(const std::string& source, const std::string& text,
                                   const dane::TlsaParams& p) {
    dane::PemMaterial pem = dane::read_pem(text);
    dane::TlsaMade made = dane::make_tlsa(pem, p);
    if (!made.error.empty()) {
        std::cerr << "dane-relay tlsa: " << source << ": " << made.error << "\n";
        return std::nullopt;
    }
    return Made{made.record, pem.first_dns_name, {}};
}

// Reads `file` and makes its record; nullopt after the message was printed.
std::optional<Made> make_from_file(const std::string& file, const dane::TlsaParams& p) {
    std::string error;
    auto text = read_file(file, error);
    if (!text) {
        std::cerr << "dane-relay tlsa: " << error << "\n";
        return std::nullopt;
    }
    return make_from_text(file, *text, p);
}

// The chain of a live server (--connect); nullopt after the message was printed.
std::optional<Made> make_from_server(const Args& a, const conf::DnsConfig& dns, int& failed) {
    ChainRequest req;
    req.host = a.connect;
    req.port = static_cast<std::uint16_t>(a.port);
    boost::system::error_code ec;
    boost::asio::ip::make_address(a.connect, ec);
    req.sni = !a.host.empty() ? a.host : ec ? a.connect : "";
    req.timeout = std::chrono::seconds(a.timeout);
    req.dns = dns;
    if (!a.unbound_conf.empty()) req.dns.unbound_conf = a.unbound_conf;
    FetchedChain got = fetch_chain(req);
    if (!got.error.empty()) {
        std::cerr << "dane-relay tlsa: --connect " << a.connect << ":" << a.port << ": "
                  << got.error << "\n";
        failed = got.setup_error ? 2 : 3;
        return std::nullopt;
    }
    if (got.address_security == "secure")
        std::cerr << "dane-relay tlsa: " << got.peer << ": the address records are DNSSEC-secure\n";
    else if (!got.address_security.empty())
        std::cerr << "dane-relay tlsa: warning: " << got.peer
                  << ": the address records are not DNSSEC-secure (insecure): DANE senders do "
                     "not use TLSA records for this host (RFC 7672 §2.2)\n";
    auto made = make_from_text(got.peer, got.pem, a.params);
    // The owner: --host, else the name connected to, else the leaf's name.
    if (made && ec) made->host = a.connect;
    if (made) made->address_security = got.address_security;
    return made;
}

// RFC 7672 §3.1.3: an SMTP client ignores usages 0 and 1; say so, but print what was asked.
void warn_if_unusable(const dane::TlsaRecord& r) {
    auto u = dane::tlsa_usability(r);
    if (!u.usable) std::cerr << "dane-relay tlsa: warning: " << u.why << "\n";
}

// {first: value, usage, selector, mtype, data}: the leading key is "owner" or "role".
boost::json::object record_json(const char* first, const std::string& value,
                                const dane::TlsaRecord& r) {
    std::string text = r.to_string();  // "U S M hex"
    return {{first, value},
            {"usage", r.usage},
            {"selector", r.selector},
            {"mtype", r.mtype},
            {"data", text.substr(text.rfind(' ') + 1)}};
}

void print(const Args& a, const std::string& owner, const std::vector<dane::TlsaRecord>& rs,
           const std::string& address_security) {
    if (!a.json) {
        for (const auto& r : rs) std::cout << owner << " IN TLSA " << r.to_string() << "\n";
        return;
    }
    boost::json::object o = record_json("owner", owner, rs.front());
    if (rs.size() > 1) {
        boost::json::array list;
        for (std::size_t i = 0; i < rs.size(); ++i)
            list.push_back(record_json("role", i == 0 ? "current" : "next", rs[i]));
        o["records"] = std::move(list);
    }
    if (!address_security.empty()) o["address_security"] = address_security;
    std::cout << boost::json::serialize(o) << "\n";
}

int usage_error(const std::string& why) {
    std::cerr << "dane-relay tlsa: " << why << " (see dane-relay tlsa --help)\n";
    return 2;
}

}  // namespace

int run_tlsa(std::vector<std::string> args) {
    if (wants_help(args)) {
        std::cout << kUsage;
        return 0;
    }
    Args a;
    auto choice = take_config_option(args);
    if (!choice.error.empty()) return usage_error(choice.error);
    if (auto e = parse_args(args, a); !e.empty()) return usage_error(e);
    if (!choice.file.empty() && a.connect.empty()) return usage_error("-c needs --connect");
    int failed = 1;
    std::optional<Made> current;
    if (a.connect.empty()) {
        current = make_from_file(a.file, a.params);
    } else {
        auto loaded = load_choice(choice);  // only [dns] is used
        if (!loaded.error.empty()) {
            std::cerr << "dane-relay tlsa: " << loaded.error << "\n";
            return 2;
        }
        current = make_from_server(a, loaded.config.dns, failed);
    }
    if (!current) return failed;
    std::vector<dane::TlsaRecord> records{current->record};
    if (!a.next.empty()) {
        auto next = make_from_file(a.next, a.params);
        if (!next) return 1;
        records.push_back(next->record);
    }
    std::string host = a.host.empty() ? current->host : a.host;
    if (host.empty())
        return usage_error((a.connect.empty() ? a.file : "the server's certificate") +
                           " names no host (a key, or no DNS subjectAltName): give --host");
    warn_if_unusable(records.front());
    print(a, dane::tlsa_owner(host, a.port), records, current->address_security);
    return 0;
}

}  // namespace dr::relay
