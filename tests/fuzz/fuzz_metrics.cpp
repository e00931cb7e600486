// Fuzzes the metrics page's texts: any request head gets one of the four answers with a
// correct Content-Length; an escaped label value is one line that unescapes to the input;
// the /proc parsers take any bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "relay/metrics/exposition.hpp"
#include "relay/metrics/http_request.hpp"
#include "relay/metrics/process.hpp"

namespace {

std::string unescape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\') {
            out += s[i];
            continue;
        }
        if (++i == s.size()) __builtin_trap();  // a lone trailing backslash
        out += s[i] == 'n' ? '\n' : s[i];
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    using dr::relay::Route;
    Route r = dr::relay::route_request(in);
    std::string resp = dr::relay::http_response(r, in);
    auto head_end = resp.find("\r\n\r\n");
    if (head_end == std::string::npos) __builtin_trap();
    auto len = resp.find("Content-Length: ");
    if (len == std::string::npos) __builtin_trap();
    if (std::stoul(resp.substr(len + 16)) != resp.size() - head_end - 4) __builtin_trap();
    // Only the page's answer carries the body it is given.
    if (r != Route::metrics && resp != dr::relay::http_response(r, "")) __builtin_trap();

    std::string esc = dr::relay::escape_label_value(in);
    if (esc.find('\n') != std::string::npos) __builtin_trap();
    if (unescape(esc) != in) __builtin_trap();
    for (std::size_t i = 0; i < esc.size(); ++i)  // every quote is escaped
        if (esc[i] == '"' && (i == 0 || esc[i - 1] != '\\')) __builtin_trap();

    (void)dr::relay::parse_proc_stat(in);
    (void)dr::relay::parse_boot_time(in);
    return 0;
}
