#include "smtp/dot_stuff.hpp"

namespace dr::smtp {

void DotStuffer::feed(std::string_view in, std::string& out) {
    for (char c : in) {
        if (c == '\n' && !after_cr_) out += '\r';
        if (line_start_ && c == '.') out += '.';  // RFC 5321 §4.5.2
        out += c;
        line_start_ = c == '\n';
        after_cr_ = c == '\r';
    }
}

void DotStuffer::finish(std::string& out) {
    if (!line_start_) out += after_cr_ ? "\n" : "\r\n";
    out += ".\r\n";
    line_start_ = true;
    after_cr_ = false;
}

std::uint64_t crlf_size(std::string_view message) {
    std::uint64_t n = 0;
    char prev = 0;
    for (char c : message) {
        n += (c == '\n' && prev != '\r') ? 2 : 1;
        prev = c;
    }
    if (prev != 0 && prev != '\n') n += (prev == '\r') ? 1 : 2;
    return n;
}

std::string xtext_encode(std::string_view in) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : in) {
        if (c >= 33 && c <= 126 && c != '+' && c != '=') {
            out += static_cast<char>(c);
        } else {
            out += '+';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

}  // namespace dr::smtp
