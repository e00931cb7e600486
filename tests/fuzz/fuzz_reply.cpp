// Fuzzes the reply and EHLO parsers: whole replies and the line-by-line parser must agree.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "smtp/ehlo.hpp"
#include "smtp/reply.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto whole = dr::smtp::parse_reply(in);
    if (whole.reply) {
        auto caps = dr::smtp::parse_ehlo(*whole.reply);
        if (whole.reply->lines.empty() || caps.greeting != whole.reply->lines[0]) __builtin_trap();
        if (whole.reply->code < 200 || whole.reply->code > 599) __builtin_trap();
        (void)whole.reply->text();
    }
    // Feeding the same lines to the incremental parser never crashes; parse_reply
    // is defined in terms of it, so a complete reply from it must match.
    dr::smtp::ReplyParser p;
    std::size_t pos = 0;
    while (pos < in.size()) {
        auto nl = in.find('\n', pos);
        auto line =
            in.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? in.size() : nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (p.feed(line)) break;
        if (p.done()) {
            auto r = p.take();
            if (whole.reply && pos == in.size() && r.lines != whole.reply->lines) __builtin_trap();
            break;
        }
    }
    return 0;
}
