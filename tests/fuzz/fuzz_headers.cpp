// The header-block readers (smtp/header_fields.hpp) on any bytes: no crash, and what they
// report is there: a Message-ID found is a piece of the input, and "TLS-Required: No" is
// only said of input that holds such a field name.
#include <cctype>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/header_fields.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto id = dr::smtp::find_message_id(in);
    if (!id.empty() && in.find(id) == std::string_view::npos) __builtin_trap();
    if (dr::smtp::tls_required_no(in)) {
        std::string lower(in);
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower.find("tls-required:") == std::string::npos) __builtin_trap();
    }
    return 0;
}
