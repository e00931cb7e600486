#include "smtp/ehlo.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace dr::smtp {
namespace {

std::string upper(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::vector<std::string_view> words(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t pos = 0;
    while (pos < s.size()) {
        while (pos < s.size() && s[pos] == ' ') ++pos;
        std::size_t end = s.find(' ', pos);
        if (end == std::string_view::npos) end = s.size();
        if (end > pos) out.push_back(s.substr(pos, end - pos));
        pos = end;
    }
    return out;
}

// RFC 5321 §4.1.1.1: ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
bool valid_keyword(std::string_view k) {
    if (k.empty() || !std::isalnum(static_cast<unsigned char>(k[0]))) return false;
    return std::all_of(k.begin(), k.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
    });
}

// RFC 1870 §4: SIZE takes an optional decimal number; anything else is ignored.
void parse_size(Capabilities& caps, const std::vector<std::string_view>& params) {
    caps.size = true;
    if (params.empty()) return;
    std::string_view n = params[0];
    if (n.empty() || n.size() > 19) return;
    std::uint64_t v = 0;
    for (char c : n) {
        if (c < '0' || c > '9') return;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    caps.size_limit = v;
}

void add_auth(Capabilities& caps, const std::vector<std::string_view>& mechs) {
    for (auto m : mechs) {
        std::string u = upper(m);
        if (std::find(caps.auth.begin(), caps.auth.end(), u) == caps.auth.end())
            caps.auth.push_back(std::move(u));
    }
}

void apply_keyword(Capabilities& caps, std::string_view line) {
    auto w = words(line);
    if (w.empty()) return;
    std::string_view head = w[0];
    std::vector<std::string_view> params(w.begin() + 1, w.end());
    // Pre-standard servers announce "AUTH=LOGIN PLAIN"; Postfix reads it too.
    if (head.size() > 5 && upper(head.substr(0, 5)) == "AUTH=") {
        params.insert(params.begin(), head.substr(5));
        add_auth(caps, params);
        return;
    }
    if (!valid_keyword(head)) return;
    std::string key = upper(head);
    caps.keywords.push_back(upper(line));
    if (key == "PIPELINING")
        caps.pipelining = true;
    else if (key == "STARTTLS")
        caps.starttls = true;
    else if (key == "8BITMIME")
        caps.eightbitmime = true;
    else if (key == "SMTPUTF8")
        caps.smtputf8 = true;
    else if (key == "REQUIRETLS")
        caps.requiretls = true;
    else if (key == "DSN")
        caps.dsn = true;
    else if (key == "ENHANCEDSTATUSCODES")
        caps.enhanced_status_codes = true;
    else if (key == "CHUNKING")
        caps.chunking = true;
    else if (key == "BINARYMIME")
        caps.binarymime = true;
    else if (key == "SIZE")
        parse_size(caps, params);
    else if (key == "AUTH")
        add_auth(caps, params);
}

}  // namespace

Capabilities parse_ehlo(const Reply& reply) {
    Capabilities caps;
    if (reply.lines.empty()) return caps;
    caps.greeting = reply.lines[0];
    for (std::size_t i = 1; i < reply.lines.size(); ++i) apply_keyword(caps, reply.lines[i]);
    return caps;
}

}  // namespace dr::smtp
