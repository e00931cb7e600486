// Text, JSON, CSV and HTML views of the tally (see render.hpp).
#include "relay/report/render.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <vector>

namespace dr::relay::report {

namespace json = boost::json;

namespace {

using Group = std::pair<std::string, const Counts*>;

std::vector<Group> largest_first(const std::map<std::string, Counts>& m) {
    std::vector<Group> v;
    for (const auto& [name, c] : m) v.emplace_back(name, &c);
    std::stable_sort(v.begin(), v.end(), [](const Group& a, const Group& b) {
        return a.second->total() > b.second->total();
    });
    return v;
}

std::uint64_t sent_at(const Counts& c, const std::string& level) {
    auto it = c.sent.find(level);
    return it == c.sent.end() ? 0 : it->second;
}

std::string pad(std::string s, std::size_t width) {
    if (s.size() < width) s.insert(0, width - s.size(), ' ');
    return s;
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
    if (whole == 0) return "";
    char buf[16];
    std::snprintf(buf, sizeof buf, "%5.1f%%",
                  100.0 * static_cast<double>(part) / static_cast<double>(whole));
    return buf;
}

// A "name total Verified ... bounced" table of groups.
void group_table(std::string& out, const std::string& title,
                 const std::map<std::string, Counts>& groups) {
    if (groups.empty()) return;
    std::size_t width = title.size();
    for (const auto& [name, c] : groups) width = std::max(width, name.size());
    out += "\n" + title + std::string(width - title.size(), ' ') + "  " + pad("total", 7);
    for (const char* l : kLevels) out += " " + pad(l, 10);
    out += " " + pad("deferred", 9) + " " + pad("bounced", 8) + "\n";
    for (const auto& [name, c] : largest_first(groups)) {
        out += name + std::string(width - name.size(), ' ') + "  " +
               pad(std::to_string(c->total()), 7);
        for (const char* l : kLevels) out += " " + pad(std::to_string(sent_at(*c, l)), 10);
        out += " " + pad(std::to_string(c->deferred), 9) + " " +
               pad(std::to_string(c->bounced), 8) + "\n";
    }
}

json::object counts_json(const Counts& c) {
    json::object sent;
    for (const auto& [level, n] : c.sent) sent[level] = n;
    return {{"sent", std::move(sent)}, {"deferred", c.deferred}, {"bounced", c.bounced}};
}

json::object groups_json(const std::map<std::string, Counts>& m) {
    json::object o;
    for (const auto& [name, c] : m) o[name] = counts_json(c);
    return o;
}

// RFC 4180: quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

void csv_row(std::string& out, const std::string& kind, const std::string& name, const Counts& c) {
    out += kind + "," + csv_field(name) + "," + std::to_string(c.total());
    for (const char* l : kLevels) out += "," + std::to_string(sent_at(c, l));
    out += "," + std::to_string(c.deferred) + "," + std::to_string(c.bounced) + ",\n";
}

}  // namespace

std::string to_text(const Tally& t) {
    std::string out = "dane-relay report: " + std::to_string(t.lines) + " log lines, " +
                      std::to_string(t.matched) + " TLS and delivery records\n";
    out += "\nTLS connections by level\n";
    std::uint64_t conns = 0;
    for (const auto& [l, n] : t.connections) conns += n;
    for (const char* l : kLevels) {
        auto it = t.connections.find(l);
        if (it == t.connections.end()) continue;
        out += "  " + std::string(l) + std::string(12 - std::string(l).size(), ' ') +
               pad(std::to_string(it->second), 8) + " " + percent(it->second, conns) + "\n";
    }
    out += "\nDelivered messages by TLS level\n";
    for (const char* l : kLevels) {
        std::uint64_t n = sent_at(t.all, l);
        if (n == 0) continue;
        out += "  " + std::string(l) + std::string(12 - std::string(l).size(), ' ') +
               pad(std::to_string(n), 8) + " " + percent(n, t.all.sent_total()) + "\n";
    }
    out += "\nsent " + std::to_string(t.all.sent_total()) + ", deferred " +
           std::to_string(t.all.deferred) + ", bounced " + std::to_string(t.all.bounced) + "\n";
    if (!t.failures.empty()) {
        out += "\nFailures by reason (deferred/bounced attempts; * = DANE or mandatory TLS)\n";
        for (const auto& [label, f] : t.failures)
            out += "  " + std::string(f.dane ? "* " : "  ") + label + ": " +
                   std::to_string(f.deferred) + " deferred, " + std::to_string(f.bounced) +
                   " bounced\n";
    }
    group_table(out, "recipient domain", t.domains);
    group_table(out, "MX host", t.mx_hosts);
    return out;
}

std::string to_json(const Tally& t) {
    json::object conns;
    for (const auto& [l, n] : t.connections) conns[l] = n;
    json::object failures;
    for (const auto& [label, f] : t.failures)
        failures[label] = {{"deferred", f.deferred}, {"bounced", f.bounced}, {"dane", f.dane}};
    json::object deliveries = counts_json(t.all);
    json::object doc{{"lines", t.lines},
                     {"connections", std::move(conns)},
                     {"deliveries", std::move(deliveries)},
                     {"failures", std::move(failures)},
                     {"domains", groups_json(t.domains)},
                     {"mx_hosts", groups_json(t.mx_hosts)}};
    return json::serialize(doc) + "\n";
}

std::string to_csv(const Tally& t) {
    std::string out = "kind,name,total";
    for (const char* l : kLevels) out += std::string(",") + l;
    out += ",deferred,bounced,dane\n";
    csv_row(out, "all", "", t.all);
    for (const auto& [name, c] : largest_first(t.domains)) csv_row(out, "domain", name, *c);
    for (const auto& [name, c] : largest_first(t.mx_hosts)) csv_row(out, "mx_host", name, *c);
    for (const auto& [label, f] : t.failures)
        out += "failure," + csv_field(label) + "," + std::to_string(f.deferred + f.bounced) +
               ",,,,,," + std::to_string(f.deferred) + "," + std::to_string(f.bounced) + "," +
               (f.dane ? "yes" : "no") + "\n";
    for (const auto& [l, n] : t.connections)
        out += "connection," + l + "," + std::to_string(n) + ",,,,,,,,\n";
    return out;
}

}  // namespace dr::relay::report
