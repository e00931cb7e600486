#include "relay/log/evidence.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "dane/tlsa.hpp"

namespace dr::relay {

namespace json = boost::json;

json::value failure_json(const std::optional<dane::Failure>& f) {
    if (!f) return nullptr;
    return json::object{{"permanent", f->permanent}, {"dsn", f->dsn}, {"reason", f->reason}};
}

json::object status_json(const smtp::DeliveryStatus& s) {
    return json::object{
        {"ok", s.ok()}, {"dsn", s.dsn}, {"reason", s.reason}, {"remote_reply", s.remote_reply}};
}

namespace {

template <class T, class F>
json::object lookup_json(const dane::Lookup<T>& l, F&& record) {
    json::array recs;
    for (const auto& r : l.records) recs.push_back(record(r));
    json::object o{{"security", dane::to_string(l.security)},
                   {"outcome", dane::to_string(l.outcome)},
                   {"records", std::move(recs)},
                   {"malformed", l.malformed}};
    if (!l.why.empty()) o["why"] = l.why;
    return o;
}

json::value ip_json(const dane::IpAddress& ip) {
    return json::value(ip.to_string());
}

json::value tlsa_json(const dane::TlsaRecord& r) {
    auto u = dane::tlsa_usability(r);
    json::object o{{"usage", r.usage},
                   {"selector", r.selector},
                   {"mtype", r.mtype},
                   {"record", r.to_string()},
                   {"usable", u.usable}};
    if (!u.usable) o["why"] = u.why;
    return o;
}

json::value host_json(const dane::HostResult& h) {
    json::array tlsa, names, notes;
    for (const auto& t : h.tlsa) {
        auto o = lookup_json(t.lookup, tlsa_json);
        o["base"] = t.base;
        tlsa.push_back(std::move(o));
    }
    for (const auto& n : h.plan.match_names) names.push_back(json::value(n));
    for (const auto& n : h.plan.notes) notes.push_back(json::value(n));
    return json::object{{"name", h.mx.name},
                        {"preference", h.mx.preference},
                        {"a", lookup_json(h.a, ip_json)},
                        {"aaaa", lookup_json(h.aaaa, ip_json)},
                        {"canonical", h.addresses.canonical},
                        {"address_security", dane::to_string(h.plan.address_security)},
                        {"tlsa", std::move(tlsa)},
                        {"plan", json::object{{"tls", dane::to_string(h.plan.tls)},
                                              {"half_dane", h.plan.half_dane},
                                              {"sts", h.plan.sts},
                                              {"sni", h.plan.tlsa_base},
                                              {"match_names", std::move(names)},
                                              {"notes", std::move(notes)},
                                              {"failure", failure_json(h.plan.failure)}}}};
}

}  // namespace

json::value tls_json(const std::optional<dane::TlsOutcome>& t) {
    if (!t) return nullptr;
    json::object o{{"trust", dane::to_string(t->trust)},
                   {"protocol", t->protocol},
                   {"summary", t->summary},
                   {"peer_cert_sha256", t->peer_cert_sha256},
                   {"peer_spki_sha256", t->peer_spki_sha256},
                   {"failure", failure_json(t->failure)}};
    if (t->matched) {
        o["matched"] = json::object{{"record", t->matched->to_string()},
                                    {"usage", t->matched->usage},
                                    {"selector", t->matched->selector},
                                    {"mtype", t->matched->mtype},
                                    {"depth", t->depth}};
    }
    if (!t->verify_error.empty()) o["verify_error"] = t->verify_error;
    // SPEC §5.6: a resumed session was not verified again; "matched" is the record its first
    // handshake matched, under the same TLSA RRset.
    if (t->resumed) o["session_reused"] = true;
    return o;
}

json::object destination_json(const dane::Destination& d) {
    json::array hosts;
    for (const auto& h : d.hosts) hosts.push_back(host_json(h));
    json::value mx = nullptr;
    if (d.mx)
        mx = lookup_json(*d.mx, [](const dane::MxRecord& m) {
            return json::value(json::object{{"preference", m.preference}, {"host", m.host}});
        });
    return json::object{{"domain", d.domain},
                        {"policy", conf::to_string(d.policy.level)},
                        {"port", d.context.port},
                        {"mx", std::move(mx)},
                        {"mx_plan", json::object{{"implicit", d.mx_plan.implicit},
                                                 {"failure", failure_json(d.mx_plan.failure)}}},
                        {"hosts", std::move(hosts)}};
}

EvidenceLog::EvidenceLog(const std::string& path, const std::optional<FileOwner>& owner) {
    std::string error;
    fd_ = open_log_file(path, owner, "JSON log", error);
    if (fd_ < 0) throw std::runtime_error(error);
}

EvidenceLog::~EvidenceLog() {
    if (fd_ >= 0) ::close(fd_);
}

void EvidenceLog::write(const json::value& v) {
    std::string line = json::serialize(v);
    line += '\n';
    [[maybe_unused]] auto n = ::write(fd_, line.data(), line.size());
}

}  // namespace dr::relay
