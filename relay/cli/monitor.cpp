#include "relay/cli/monitor.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdio>

#include "dane/tlsa.hpp"
#include "relay/cli/renewal.hpp"
#include "smtp/peer_name.hpp"

namespace dr::relay {

namespace json = boost::json;
using dane::Security;

const char* to_string(Severity s) {
    switch (s) {
        case Severity::ok:
            return "OK";
        case Severity::warning:
            return "WARNING";
        case Severity::critical:
            return "CRITICAL";
        case Severity::unknown:
            return "UNKNOWN";
    }
    return "UNKNOWN";
}

namespace {

constexpr double kDay = 86400;

std::string days_text(double days) {
    char buf[64];
    if (days < 0)
        std::snprintf(buf, sizeof buf, "expired %.1f days ago", -days);
    else
        std::snprintf(buf, sizeof buf, "expires in %.1f days", days);
    return buf;
}

// A record as the texts show it: "3 1 1 ab12cd34…".
std::string short_record(const dane::TlsaRecord& r) {
    std::string s = r.to_string();
    auto data = s.rfind(' ') + 1;
    if (s.size() - data > 16) {
        s.resize(data + 16);
        s += "…";
    }
    return s;
}

struct Judge {
    const DomainReport& r;
    const MonitorOptions& o;
    Judgement j;

    void add(Severity s, const std::string& host, std::string text) {
        j.severity = std::max(j.severity, s);
        if (!host.empty() && text.find(host) == std::string::npos) text = host + ": " + text;
        j.findings.push_back(Finding{s, host, std::move(text)});
    }

    // The MX RRset; false when there is no host to look at.
    bool mx() {
        const auto& d = r.destination;
        if (!d.mx) return !d.mx_plan.failure;  // a pinned next hop
        const auto& mx = *d.mx;
        if (mx.security == Security::bogus) {
            add(Severity::critical, "",
                "MX RRset is bogus (DNSSEC validation failed: " + mx.why + "): DANE senders defer");
            return false;
        }
        bool null_mx = mx.outcome == dane::Outcome::found && mx.records.size() == 1 &&
                       mx.records[0].host.empty();
        if (null_mx && mx.secure()) {
            j.ok_text = "accepts no mail (null MX, RFC 7505), signed: nothing for DANE to check";
            return false;
        }
        if (mx.security == Security::insecure) {
            bool dane_host = std::any_of(d.hosts.begin(), d.hosts.end(), [](const auto& h) {
                return h.plan.tls == dane::TlsRequirement::dane;
            });
            if (!dane_host)
                add(Severity::critical, "",
                    "no DNSSEC: the MX RRset is not signed and no host has secure TLSA records");
        }
        if (d.mx_plan.failure) {
            add(Severity::critical, "", d.mx_plan.failure->dsn + " " + d.mx_plan.failure->reason);
            return false;
        }
        return true;
    }

    // A host's DNS: addresses and TLSA. False when it has no DANE plan to check the peer with.
    bool host_dns(const dane::HostResult& h) {
        const auto& p = h.plan;
        const auto& name = h.mx.name;
        if (p.failure) {
            std::string why;
            for (const auto& t : h.tlsa)
                if (!t.lookup.ok())
                    why = " (" + std::string(dane::to_string(t.lookup.security)) +
                          (t.lookup.why.empty() ? "" : ": " + t.lookup.why) + ")";
            add(Severity::critical, name, p.failure->dsn + " " + p.failure->reason + why);
            return false;
        }
        if (p.address_security != Security::secure) {
            add(Severity::critical, name,
                "address records are not signed: DANE senders cannot use TLSA records for it "
                "(RFC 7672 §2.2)");
            return false;
        }
        if (p.tls == dane::TlsRequirement::dane) {
            if (p.half_dane)
                add(Severity::warning, name,
                    "half-DANE: the MX RRset is not signed, so its secure TLSA records are only "
                    "used by senders that look them up anyway (Postfix logs Trusted)");
            return true;
        }
        const dane::TlsaCandidate* found = nullptr;
        for (const auto& t : h.tlsa)
            if (!found && t.lookup.outcome == dane::Outcome::found) found = &t;
        if (!found)
            add(Severity::critical, name, "no TLSA records: DANE senders cannot authenticate it");
        else if (!found->lookup.secure())
            add(Severity::critical, name, "TLSA records in an unsigned zone: they cannot be used");
        else
            add(Severity::critical, name,
                "no usable TLSA records (PKIX-TA/PKIX-EE are not used with SMTP, RFC 7672 "
                "§3.1.3): senders fall back to unauthenticated TLS");
        return false;
    }

    // What one handshake's result says (c: a default or a restricted probe).
    void probe(const dane::HostResult& h, const Connection& c, bool dane_plan) {
        std::string peer = smtp::peer_name(h.mx.name, c.address, c.port);
        if (c.restricted != KeyType::any)
            peer += " (" + std::string(to_string(c.restricted)) + " certificate, second handshake)";
        if (c.status.ok()) return;
        if (dane_plan && c.tls && c.tls->failure) {
            bool data_match = std::any_of(h.plan.tlsa.begin(), h.plan.tlsa.end(),
                                          [&](const auto& t) { return tlsa_matches(t, c.chain); });
            std::string key = c.key_type.empty() ? "" : c.key_type + " ";
            std::string why = c.tls->verify_error.empty() ? "" : " (" + c.tls->verify_error + ")";
            add(Severity::critical, h.mx.name,
                peer + ": " +
                    (data_match
                         ? "DANE-TA chain or name check failed" + why
                         : "the live " + key + "certificate matches none of the TLSA records") +
                    (c.restricted == KeyType::any
                         ? std::string(": DANE senders defer")
                         : std::string(": DANE senders offering only ") + to_string(c.restricted) +
                               " signatures defer"));
            return;
        }
        add(Severity::critical, h.mx.name,
            peer + ": " + c.status.dsn + " " + c.status.reason +
                (h.plan.sts ? ": MTA-STS senders defer (its policy is enforce)" : ""));
    }

    // The MTA-STS policy, when check_domain looked it up: a failed fetch or a bad policy.
    // A WARNING, not CRITICAL: senders then deliver as without a policy (RFC 8461 §5.1).
    void sts() {
        if (!r.sts || r.sts->failure.empty()) return;
        add(Severity::warning, "",
            "MTA-STS " + r.sts->failure + ": " + r.sts->why +
                ": senders without a cached policy deliver as if there were none");
    }

    // Every certificate chain the host presented, over every address and key type.
    static std::vector<const Connection*> handshakes(const HostCheck& hc) {
        std::vector<const Connection*> out;
        for (const auto& c : hc.connections) {
            if (!c.chain.empty()) out.push_back(&c);
            for (const auto& k : c.other_keys)
                if (k.offered && !k.chain.empty()) out.push_back(&k);
        }
        return out;
    }

    // Records no live certificate matches: stale, or a next key published early.
    void records(const dane::HostResult& h, const std::vector<const Connection*>& seen) {
        for (const auto& t : h.plan.tlsa) {
            ++j.figures.tlsa_records;
            if (seen.empty()) continue;
            bool live = std::any_of(seen.begin(), seen.end(),
                                    [&](const auto* c) { return tlsa_matches(t, c->chain); });
            if (live) continue;
            ++j.figures.tlsa_unmatched;
            add(Severity::warning, h.mx.name,
                "TLSA " + short_record(t) +
                    " matches no live certificate: stale after a rollover, or the next key "
                    "published early (the two cannot be told apart)");
        }
    }

    // The TLSA RRSIG and the DANE-TA chain certificates, against the clock.
    void dates(const dane::HostResult& h, const std::vector<const Connection*>& seen) {
        for (const auto& t : h.tlsa) {
            if (t.base != h.plan.tlsa_base || !t.lookup.sig_expires) continue;
            double days = static_cast<double>(t.lookup.sig_expires - o.now) / kDay;
            if (!j.figures.sig_days || days < *j.figures.sig_days) j.figures.sig_days = days;
            if (days < o.sig_warn_days)
                add(Severity::warning, h.mx.name,
                    "the RRSIG of the TLSA RRset _" + std::to_string(r.destination.context.port) +
                        "._tcp." + t.base + " " + days_text(days) + " (re-sign the zone)");
        }
        for (const auto* c : seen) {
            if (!c->tls || !c->tls->matched || c->tls->matched->usage != 2) continue;
            for (std::size_t i = 0; i < c->chain.size() && static_cast<int>(i) <= c->tls->depth;
                 ++i) {
                double days = static_cast<double>(c->chain[i].not_after - o.now) / kDay;
                if (!j.figures.ta_cert_days || days < *j.figures.ta_cert_days)
                    j.figures.ta_cert_days = days;
                if (days < o.cert_warn_days)
                    add(Severity::warning, h.mx.name,
                        smtp::peer_name(h.mx.name, c->address, c->port) + ": certificate " +
                            std::to_string(i) + " of the DANE-TA chain " + days_text(days));
            }
        }
    }

    // --cert FILE: would a DANE sender accept the renewed chain from this host? OpenSSL's
    // verification, as in a handshake, against all of the host's records (renewal.hpp).
    void renewal(const dane::HostResult& h) {
        if (!o.renewal) return;
        auto v = judge_renewal(h.plan, *o.renewal, o.now);
        if (v.accepted) return;
        bool data_match = std::any_of(h.plan.tlsa.begin(), h.plan.tlsa.end(),
                                      [&](const auto& t) { return tlsa_matches(t, *o.renewal); });
        add(Severity::warning, h.mx.name,
            "this renewal would break DANE for " + h.mx.name + ": " + o.renewal_name +
                (data_match
                     ? " matches a DANE-TA record, but its chain or name check fails (" + v.why +
                           ")"
                     : " matches none of its TLSA records (" + v.why +
                           "; publish its record first: dane-relay tlsa " + o.renewal_name + ")"));
    }

    void host(std::size_t i) {
        const auto& h = r.destination.hosts[i];
        ++j.figures.hosts;
        j.figures.addresses += static_cast<unsigned>(h.plan.addresses.size());
        bool dane_plan = host_dns(h);
        static const HostCheck kNone;
        const auto& hc = i < r.hosts.size() ? r.hosts[i] : kNone;
        for (const auto& c : hc.connections) {
            probe(h, c, dane_plan);
            for (const auto& k : c.other_keys)
                if (k.offered) probe(h, k, dane_plan);
        }
        auto seen = handshakes(hc);
        j.figures.certificates += static_cast<unsigned>(seen.size());
        if (!dane_plan) return;
        records(h, seen);
        dates(h, seen);
        renewal(h);
    }

    void ok_text() {
        if (!j.ok_text.empty()) return;
        const auto& f = j.figures;
        j.ok_text = std::to_string(f.hosts) + " MX host(s), " + std::to_string(f.addresses) +
                    " address(es), " + std::to_string(f.certificates) +
                    " certificate(s) matching their TLSA records";
        if (o.renewal) j.ok_text += ", and " + o.renewal_name + " matches too";
    }
};

}  // namespace

Judgement judge(const DomainReport& r, const MonitorOptions& o) {
    Judge j{r, o, {}};
    j.j.domain = r.domain;
    j.sts();
    if (j.mx())
        for (std::size_t i = 0; i < r.destination.hosts.size(); ++i) j.host(i);
    j.ok_text();
    return std::move(j.j);
}

// ---- the plugin's output ---------------------------------------------------------------

namespace {

struct Totals {
    Figures f;
    unsigned domains = 0, critical = 0, warning = 0;
};

void keep_min(std::optional<double>& into, const std::optional<double>& v) {
    if (v && (!into || *v < *into)) into = v;
}

Totals totals(const std::vector<Judgement>& js) {
    Totals t;
    for (const auto& j : js) {
        ++t.domains;
        t.critical += j.severity == Severity::critical;
        t.warning += j.severity == Severity::warning;
        t.f.hosts += j.figures.hosts;
        t.f.addresses += j.figures.addresses;
        t.f.certificates += j.figures.certificates;
        t.f.tlsa_records += j.figures.tlsa_records;
        t.f.tlsa_unmatched += j.figures.tlsa_unmatched;
        keep_min(t.f.sig_days, j.figures.sig_days);
        keep_min(t.f.ta_cert_days, j.figures.ta_cert_days);
    }
    return t;
}

std::string fixed(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

// Nagios perfdata: label=value;warn;crit ("7:" alerts below 7; "0" alerts above 0).
std::string perfdata(const Totals& t) {
    auto n = [](unsigned v) { return std::to_string(v); };
    std::string s = "domains=" + n(t.domains) + " critical=" + n(t.critical) + ";;0" +
                    " warning=" + n(t.warning) + ";0" + " hosts=" + n(t.f.hosts) +
                    " addresses=" + n(t.f.addresses) + " certificates=" + n(t.f.certificates) +
                    " tlsa_records=" + n(t.f.tlsa_records) +
                    " tlsa_unmatched=" + n(t.f.tlsa_unmatched) + ";0";
    return s;
}

// The soonest expiries, in days, with --sig-warn / --cert-warn as the warning range.
std::string perfdata_dates(const Totals& t, const MonitorOptions& o) {
    std::string s;
    if (t.f.sig_days)
        s += " tlsa_sig_days=" + fixed(*t.f.sig_days) + ";" + fixed(o.sig_warn_days) + ":;0:";
    if (t.f.ta_cert_days)
        s += " ta_cert_days=" + fixed(*t.f.ta_cert_days) + ";" + fixed(o.cert_warn_days) + ":";
    return s;
}

std::string summary(const std::vector<Judgement>& js, Severity worst, const Totals& t) {
    if (worst == Severity::ok)
        return js.size() == 1 ? js[0].domain + ": " + js[0].ok_text
                              : std::to_string(js.size()) + " domains OK";
    std::string s;
    if (js.size() > 1)
        s = std::to_string(t.critical) + " critical, " + std::to_string(t.warning) +
            " warning of " + std::to_string(js.size()) + " domains: ";
    unsigned shown = 0;
    for (const auto& j : js)
        for (const auto& f : j.findings) {
            if (f.severity != worst || shown == 2) continue;
            s += (shown++ ? "; " : "") + j.domain + ": " + f.text;
        }
    return s;
}

}  // namespace

PluginOutput plugin_output(const std::vector<Judgement>& js, const MonitorOptions& o) {
    PluginOutput out;
    for (const auto& j : js) out.severity = std::max(out.severity, j.severity);
    Totals t = totals(js);
    out.first_line = std::string("DANE ") + to_string(out.severity) + " - " +
                     summary(js, out.severity, t) + " | " + perfdata(t) + perfdata_dates(t, o);
    for (const auto& j : js) {
        if (j.findings.empty())
            out.details.push_back(std::string("OK ") + j.domain + ": " + j.ok_text);
        for (const auto& f : j.findings)
            out.details.push_back(std::string(to_string(f.severity)) + " " + j.domain + ": " +
                                  f.text);
    }
    return out;
}

json::value monitor_json(const std::vector<Judgement>& js, const MonitorOptions& o,
                         const std::vector<DomainReport>& reports) {
    auto out = plugin_output(js, o);
    Totals t = totals(js);
    json::array domains;
    for (std::size_t i = 0; i < js.size(); ++i) {
        const auto& j = js[i];
        json::array findings;
        for (const auto& f : j.findings)
            findings.push_back(json::object{
                {"severity", to_string(f.severity)}, {"host", f.host}, {"text", f.text}});
        json::object figures{{"hosts", j.figures.hosts},
                             {"addresses", j.figures.addresses},
                             {"certificates", j.figures.certificates},
                             {"tlsa_records", j.figures.tlsa_records},
                             {"tlsa_unmatched", j.figures.tlsa_unmatched}};
        if (j.figures.sig_days) figures["tlsa_sig_days"] = *j.figures.sig_days;
        if (j.figures.ta_cert_days) figures["ta_cert_days"] = *j.figures.ta_cert_days;
        json::object d{{"domain", j.domain},
                       {"status", to_string(j.severity)},
                       {"findings", std::move(findings)},
                       {"ok", j.ok_text},
                       {"figures", std::move(figures)}};
        if (i < reports.size()) d["check"] = to_json(reports[i]);
        domains.push_back(std::move(d));
    }
    std::string first = out.first_line;
    auto bar = first.find(" | ");
    return json::object{{"status", to_string(out.severity)},
                        {"exit", static_cast<int>(out.severity)},
                        {"line", first},
                        {"summary", first.substr(0, bar)},
                        {"perfdata", bar == std::string::npos ? "" : first.substr(bar + 3)},
                        {"critical", t.critical},
                        {"warning", t.warning},
                        {"domains", std::move(domains)}};
}

}  // namespace dr::relay
