// The self-contained HTML page of `dane-relay report --html` (see render.hpp): tallies as
// horizontal bar charts in inline SVG, every number also as text (data-count attributes let
// a browser test read what was rendered). No scripts, fonts or other external resources.
#include <algorithm>
#include <vector>

#include "relay/report/render.hpp"

namespace dr::relay::report {

namespace {

std::string escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

struct Bar {
    std::string label;
    std::uint64_t count;
    std::string css;  // a class naming the colour
};

// One chart: a titled SVG of bars scaled to the largest, with the count after each bar.
std::string chart(const std::string& id, const std::string& title, const std::vector<Bar>& bars) {
    std::uint64_t max = 1;
    for (const auto& b : bars) max = std::max(max, b.count);
    constexpr int kRow = 24, kLabel = 260, kWidth = 420;
    std::string out = "<section id=\"" + id + "\"><h2>" + escape(title) + "</h2>\n";
    if (bars.empty()) return out + "<p class=\"none\">none</p></section>\n";
    const int height = kRow * static_cast<int>(bars.size());
    out += "<svg role=\"img\" width=\"" + std::to_string(kLabel + kWidth + 80) + "\" height=\"" +
           std::to_string(height) + "\">\n";
    for (std::size_t i = 0; i < bars.size(); ++i) {
        const auto& b = bars[i];
        const int y = kRow * static_cast<int>(i);
        const auto w =
            static_cast<int>(static_cast<double>(b.count) * kWidth / static_cast<double>(max));
        out += "<g class=\"bar " + b.css + "\" data-label=\"" + escape(b.label) +
               "\" data-count=\"" + std::to_string(b.count) + "\"><text x=\"0\" y=\"" +
               std::to_string(y + 16) + "\">" + escape(b.label) + "</text><rect x=\"" +
               std::to_string(kLabel) + "\" y=\"" + std::to_string(y + 4) + "\" width=\"" +
               std::to_string(std::max(w, 1)) + "\" height=\"16\"/><text x=\"" +
               std::to_string(kLabel + w + 6) + "\" y=\"" + std::to_string(y + 16) +
               "\" class=\"count\">" + std::to_string(b.count) + "</text></g>\n";
    }
    return out + "</svg></section>\n";
}

std::string level_css(const std::string& level) {
    return "level-" + level;
}

std::vector<Bar> level_bars(const std::map<std::string, std::uint64_t>& m) {
    std::vector<Bar> bars;
    for (const char* l : kLevels)
        if (auto it = m.find(l); it != m.end()) bars.push_back({l, it->second, level_css(l)});
    return bars;
}

// The busiest groups by delivered-plus-failed messages, at most `limit`.
std::vector<Bar> group_bars(const std::map<std::string, Counts>& m, std::size_t limit) {
    std::vector<Bar> bars;
    for (const auto& [name, c] : m) bars.push_back({name, c.total(), "group"});
    std::stable_sort(bars.begin(), bars.end(),
                     [](const Bar& a, const Bar& b) { return a.count > b.count; });
    if (bars.size() > limit) bars.resize(limit);
    return bars;
}

constexpr const char* kStyle = R"(body{font-family:sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}
svg text{font-size:13px;font-family:sans-serif}rect{fill:#777}
.level-Verified rect{fill:#1a7f37}.level-Trusted rect{fill:#4c9a2a}
.level-Untrusted rect{fill:#d4a72c}.level-Anonymous rect{fill:#e0823d}
.level-plaintext rect{fill:#c93c37}.dane rect{fill:#8250df}.group rect{fill:#3f6fb5}
p.summary span{font-weight:bold})";

}  // namespace

std::string to_html(const Tally& t, const std::string& title) {
    std::vector<Bar> failures;
    for (const auto& [label, f] : t.failures)
        failures.push_back({label, f.deferred + f.bounced, f.dane ? "dane" : "other"});
    std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" +
                      escape(title) + "</title>\n<style>" + kStyle + "</style></head><body>\n";
    out += "<h1>" + escape(title) + "</h1>\n<p class=\"summary\">sent <span id=\"sent\">" +
           std::to_string(t.all.sent_total()) + "</span>, deferred <span id=\"deferred\">" +
           std::to_string(t.all.deferred) + "</span>, bounced <span id=\"bounced\">" +
           std::to_string(t.all.bounced) + "</span> (" + std::to_string(t.lines) +
           " log lines)</p>\n";
    out += chart("connections", "TLS connections by level", level_bars(t.connections));
    out += chart("delivered", "Delivered messages by TLS level", level_bars(t.all.sent));
    out += chart("failures", "Deferred and bounced by reason (purple: DANE)", failures);
    out += chart("domains", "Recipient domains (top 20)", group_bars(t.domains, 20));
    out += chart("mx_hosts", "MX hosts (top 20)", group_bars(t.mx_hosts, 20));
    return out + "</body></html>\n";
}

}  // namespace dr::relay::report
