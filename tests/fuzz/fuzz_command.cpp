// Fuzzes the server's command parser (verbs, paths, ESMTP parameters, xtext, UTF-8) and the
// base64 decoder of AUTH.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "smtp/address.hpp"
#include "smtp/auth.hpp"
#include "smtp/base64.hpp"
#include "smtp/command.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto r = dr::smtp::parse_command(in);
    if (r.command) {
        const auto& c = *r.command;
        // An accepted path never carries CR, LF, NUL or exceeds the RFC 5321 limits.
        if (c.path.address.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
            __builtin_trap();
        if (c.path.local.size() > 64 || c.path.address.size() > 254) __builtin_trap();
        if (c.path.utf8 && !dr::smtp::valid_utf8(c.path.address)) __builtin_trap();
    } else if (r.error.code < 500 || r.error.code > 555) {
        __builtin_trap();
    }
    (void)dr::smtp::xtext_decode(in);
    (void)dr::smtp::parse_mailbox(in);
    if (auto c = dr::smtp::parse_auth_plain(in))
        if (c->user.empty()) __builtin_trap();
    // AUTH responses: strict base64 decodes only what re-encodes to the same text.
    if (auto decoded = dr::smtp::base64_decode(in))
        if (dr::smtp::base64_encode(*decoded) != in) __builtin_trap();
    return 0;
}
