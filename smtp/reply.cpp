#include "smtp/reply.hpp"

namespace dr::smtp {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

std::size_t digits_at(std::string_view s, std::size_t pos) {
    std::size_t n = 0;
    while (pos + n < s.size() && is_digit(s[pos + n])) ++n;
    return n;
}

// Parses "NNN" at the start of a line; -1 when it is not a reply code.
int parse_code(std::string_view line) {
    if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]))
        return -1;
    if (line[0] < '2' || line[0] > '5') return -1;
    return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

}  // namespace

std::size_t enhanced_code_length(std::string_view text) {
    if (text.empty() || (text[0] != '2' && text[0] != '4' && text[0] != '5')) return 0;
    if (text.size() < 2 || text[1] != '.') return 0;
    std::size_t pos = 2;
    std::size_t n = digits_at(text, pos);
    if (n < 1 || n > 3) return 0;
    pos += n;
    if (pos >= text.size() || text[pos] != '.') return 0;
    ++pos;
    n = digits_at(text, pos);
    if (n < 1 || n > 3) return 0;
    pos += n;
    // The code is a word of its own: followed by a space or the end of line.
    if (pos < text.size() && text[pos] != ' ') return 0;
    return pos;
}

std::string Reply::status() const {
    if (!enhanced.empty()) return enhanced;
    return std::to_string(kind()) + ".0.0";
}

std::string Reply::text() const {
    std::string out = std::to_string(code);
    if (!enhanced.empty()) out += " " + enhanced;
    for (const auto& l : lines) {
        if (l.empty()) continue;
        out += ' ';
        out += l;
    }
    return out;
}

std::string_view to_string(ReplyError e) {
    switch (e) {
        case ReplyError::bad_code:
            return "malformed reply code";
        case ReplyError::bad_separator:
            return "malformed reply separator";
        case ReplyError::code_mismatch:
            return "reply code changed inside a multi-line reply";
        case ReplyError::too_long:
            return "reply line too long";
        case ReplyError::too_many_lines:
            return "too many reply lines";
        case ReplyError::too_large:
            return "reply too large";
        case ReplyError::truncated:
            return "truncated reply";
        case ReplyError::trailing_garbage:
            return "data after the reply";
    }
    return "unknown reply error";
}

void ReplyParser::reset() {
    reply_ = Reply{};
    bytes_ = 0;
    done_ = false;
}

Reply ReplyParser::take() {
    Reply r = std::move(reply_);
    reset();
    return r;
}

std::optional<ReplyError> ReplyParser::feed(std::string_view line) {
    if (done_) reset();
    if (line.size() > limits_.max_line_length) return ReplyError::too_long;
    int code = parse_code(line);
    if (code < 0) return ReplyError::bad_code;
    // RFC 5321 §4.2: "NNN" alone is a valid last line; otherwise ' ' or '-'.
    bool last = line.size() == 3 || line[3] == ' ';
    if (line.size() > 3 && line[3] != ' ' && line[3] != '-') return ReplyError::bad_separator;
    if (!reply_.lines.empty() && code != reply_.code) return ReplyError::code_mismatch;
    if (reply_.lines.size() >= limits_.max_lines) return ReplyError::too_many_lines;
    bytes_ += line.size();
    if (bytes_ > limits_.max_bytes) return ReplyError::too_large;
    reply_.code = code;
    std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};
    // RFC 2034 §4: the enhanced code prefixes every line; its class must match
    // the reply's, or it is just text (RFC 3463 §2 ties the two together).
    std::size_t n = enhanced_code_length(text);
    if (n > 0 && text[0] == line[0]) {
        if (reply_.lines.empty()) reply_.enhanced = std::string(text.substr(0, n));
        text.remove_prefix(n);
        while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    }
    reply_.lines.emplace_back(text);
    done_ = last;
    return std::nullopt;
}

ReplyResult parse_reply(std::string_view bytes, ReplyLimits limits) {
    ReplyParser parser(limits);
    while (!bytes.empty()) {
        std::size_t nl = bytes.find('\n');
        std::string_view line = bytes.substr(0, nl);
        bytes.remove_prefix(nl == std::string_view::npos ? bytes.size() : nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (auto err = parser.feed(line)) return {std::nullopt, err};
        if (parser.done()) {
            if (!bytes.empty()) return {std::nullopt, ReplyError::trailing_garbage};
            return {parser.take(), std::nullopt};
        }
    }
    return {std::nullopt, ReplyError::truncated};
}

}  // namespace dr::smtp
