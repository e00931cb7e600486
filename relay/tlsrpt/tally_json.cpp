// Tally::from_json(): reads back what Tally::to_json() wrote, strictly (a file that says
// anything else is refused with the first problem, and the caller keeps it aside).
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "relay/tlsrpt/tally.hpp"

namespace dr::relay::tlsrpt {

namespace json = boost::json;

namespace {

struct Bad {
    std::string what;
};

const json::object& object_at(const json::value& v, const char* what) {
    if (!v.is_object()) throw Bad{std::string(what) + " is not an object"};
    return v.get_object();
}

const json::value& member(const json::object& o, const char* key) {
    auto it = o.find(key);
    if (it == o.end()) throw Bad{std::string("no \"") + key + "\""};
    return it->value();
}

std::string text(const json::value& v, const char* what) {
    if (!v.is_string()) throw Bad{std::string(what) + " is not a string"};
    return std::string(v.get_string());
}

std::uint64_t count(const json::value& v, const char* what) {
    if (v.is_uint64()) return v.get_uint64();
    if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
    throw Bad{std::string(what) + " is not a count"};
}

std::vector<std::string> texts(const json::object& o, const char* key) {
    std::vector<std::string> out;
    auto it = o.find(key);
    if (it == o.end()) return out;
    if (!it->value().is_array()) throw Bad{std::string(key) + " is not an array"};
    for (const auto& s : it->value().get_array()) out.push_back(text(s, key));
    return out;
}

std::string optional_text(const json::object& o, const char* key) {
    auto it = o.find(key);
    return it == o.end() ? std::string() : text(it->value(), key);
}

FailureKey failure_of(const json::object& f) {
    // Files of 2026-12-03 had the reason under "additional-information" (a URI in the RFC).
    auto reason = optional_text(f, "failure-reason-code");
    if (reason.empty()) reason = optional_text(f, "additional-information");
    return FailureKey{text(member(f, "result-type"), "result-type"),
                      optional_text(f, "receiving-mx-hostname"), optional_text(f, "receiving-ip"),
                      std::move(reason)};
}

void read_entry(const json::value& v, Tally& t) {
    const auto& e = object_at(v, "a policy entry");
    const auto& p = object_at(member(e, "policy"), "policy");
    auto type = parse_policy_type(text(member(p, "policy-type"), "policy-type"));
    if (!type) throw Bad{"unknown policy-type"};
    SessionOutcome o{text(member(p, "policy-domain"), "policy-domain"),
                     PolicyKey{*type, texts(p, "policy-string"), texts(p, "mx-host")},
                     std::nullopt};
    const auto& s = object_at(member(e, "summary"), "summary");
    if (auto n = count(member(s, "total-successful-session-count"), "count")) t.add(o, n);
    auto it = e.find("failure-details");
    if (it == e.end()) return;
    if (!it->value().is_array()) throw Bad{"failure-details is not an array"};
    for (const auto& fv : it->value().get_array()) {
        const auto& f = object_at(fv, "a failure");
        o.failure = failure_of(f);
        t.add(o, count(member(f, "failed-session-count"), "count"));
    }
}

}  // namespace

std::optional<Tally> Tally::from_json(const json::value& v, std::string& error) {
    try {
        const auto& o = object_at(v, "the file");
        if (count(member(o, "version"), "version") != 1) throw Bad{"not version 1"};
        const auto& all = member(o, "policies");
        if (!all.is_array()) throw Bad{"policies is not an array"};
        Tally t;
        for (const auto& e : all.get_array()) read_entry(e, t);
        return t;
    } catch (const Bad& b) {
        error = b.what;
        return std::nullopt;
    }
}

}  // namespace dr::relay::tlsrpt
