// Round trip: what the client's DotStuffer sends, the server's DataReader reads back
// unchanged (with CRLF line ends) and ends exactly at the terminator.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/data_reader.hpp"
#include "smtp/dot_stuff.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    dr::smtp::DotStuffer stuffer;
    std::string wire;
    stuffer.feed(in.substr(0, size / 2), wire);
    stuffer.feed(in.substr(size / 2), wire);
    stuffer.finish(wire);

    dr::smtp::DataReader reader(dr::smtp::DataLimits{1u << 20, 0});
    std::string back;
    std::size_t used = reader.feed(wire, back);
    if (!reader.done()) {
        // Only a bare CR or NUL in the input can keep the reader from the terminator.
        if (in.find_first_of(std::string_view("\r\0", 2)) == std::string_view::npos)
            __builtin_trap();
        return 0;
    }
    if (used != wire.size()) __builtin_trap();
    if (reader.error()) return 0;  // input with bare CR or NUL: refused, fine
    if (back.size() != dr::smtp::crlf_size(in)) __builtin_trap();
    std::string expected;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) expected += '\r';
        expected += in[i];
    }
    // The stuffer ends an unfinished last line; a trailing CR just gets its LF.
    if (!expected.empty() && expected.back() == '\r')
        expected += '\n';
    else if (!expected.empty() && expected.back() != '\n')
        expected += "\r\n";
    if (back != expected) __builtin_trap();
    return 0;
}
