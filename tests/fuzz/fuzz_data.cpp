// Fuzzes the DATA stream parser: the result must not depend on how the input is chunked.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/data_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    std::size_t cut = data[0];
    std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    dr::smtp::DataLimits limits{80, 4096};

    dr::smtp::DataReader whole(limits);
    std::string out1;
    std::size_t used1 = whole.feed(in, out1);

    dr::smtp::DataReader split(limits);
    std::string out2;
    cut = cut % (in.size() + 1);
    std::size_t used2 = split.feed(in.substr(0, cut), out2);
    if (!split.done()) used2 += split.feed(in.substr(cut), out2);

    if (used1 > in.size() || used1 != used2 || out1 != out2) __builtin_trap();
    if (whole.done() != split.done() || whole.error() != split.error()) __builtin_trap();
    if (whole.size() != split.size()) __builtin_trap();
    // A clean message has only CRLF line ends.
    if (!whole.error()) {
        for (std::size_t i = 0; i < out1.size(); ++i) {
            if (out1[i] == '\n' && (i == 0 || out1[i - 1] != '\r')) __builtin_trap();
            if (out1[i] == '\r' && (i + 1 >= out1.size() || out1[i + 1] != '\n')) __builtin_trap();
        }
    }
    return 0;
}
