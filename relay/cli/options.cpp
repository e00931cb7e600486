// The shared option and configuration loader (see options.hpp).
#include "relay/cli/options.hpp"

#include <filesystem>

namespace dr::relay {

ConfigChoice take_config_option(std::vector<std::string>& args) {
    ConfigChoice c;
    bool given = false;
    for (auto it = args.begin(); it != args.end();) {
        if (it->starts_with("--config=")) {
            c.file = it->substr(9);
            given = true;
            it = args.erase(it);
        } else if (*it == "-c" || *it == "--config") {
            if (it + 1 == args.end()) {
                c.error = *it + " needs a file name";
                args.erase(it);
                return c;
            }
            c.file = *(it + 1);
            given = true;
            it = args.erase(it, it + 2);
        } else {
            ++it;
        }
    }
    if (given && c.file.empty()) c.error = "-c needs a file name";
    std::error_code ec;
    if (!given && std::filesystem::exists(kDefaultConfigFile, ec)) c.file = kDefaultConfigFile;
    return c;
}

LoadedConfig load_choice(const ConfigChoice& choice) {
    LoadedConfig l;
    l.file = choice.file;
    try {
        if (!l.file.empty()) l.config = conf::load_config(l.file);
    } catch (const conf::ConfigError& e) {
        l.error = e.what();
    }
    return l;
}

bool wants_help(const std::vector<std::string>& args) {
    for (const auto& a : args)
        if (a == "-h" || a == "--help") return true;
    return false;
}

}  // namespace dr::relay
