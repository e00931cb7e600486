// ValueError: a config value that does not parse. The value parsers throw it
// with a message that names the problem but not the place; the TOML loader
// prefixes "file:line:column: key: " and rethrows it as ConfigError.
#pragma once

#include <stdexcept>

namespace dr::conf {

class ValueError : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

}  // namespace dr::conf
