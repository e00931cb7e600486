// The one option and configuration loader of every subcommand (SPEC §9): `-c FILE` /
// `--config FILE` names the file; without it /etc/dane-relay/dane-relay.toml is read when it
// exists, else the built-in defaults apply. Entry points: take_config_option(), load_choice().
// Problems are values: ConfigChoice::error (usage) or LoadedConfig::error (the file's
// "file:line:column: message").
#pragma once

#include <string>
#include <vector>

#include "conf/config.hpp"

namespace dr::relay {

inline constexpr const char* kDefaultConfigFile = "/etc/dane-relay/dane-relay.toml";

struct ConfigChoice {
    std::string file;   // "" = the built-in defaults
    std::string error;  // a usage error, e.g. "-c needs a file name"
};

// Takes every "-c FILE", "--config FILE" and "--config=FILE" out of args (the last one wins).
ConfigChoice take_config_option(std::vector<std::string>& args);

struct LoadedConfig {
    conf::Config config;
    std::string file;   // as chosen
    std::string error;  // not empty: the file could not be loaded
    // "built-in defaults" or the file name, as start-up lines say it.
    std::string name() const { return file.empty() ? "built-in defaults" : file; }
};

LoadedConfig load_choice(const ConfigChoice& choice);

// True when args holds -h or --help.
bool wants_help(const std::vector<std::string>& args);

}  // namespace dr::relay
