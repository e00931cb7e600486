// libFuzzer target: the TOML config loader must refuse any input with a
// ConfigError (file:line:column message) and never crash or throw anything else.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "conf/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        dr::conf::parse_config(std::string_view(reinterpret_cast<const char*>(data), size),
                               "fuzz.toml");
    } catch (const dr::conf::ConfigError&) {
    }
    return 0;
}
