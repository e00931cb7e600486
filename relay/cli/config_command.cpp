// `dane-relay config check` (see config_command.hpp).
#include "relay/cli/config_command.hpp"

#include <iostream>

#include "relay/cli/options.hpp"

namespace dr::relay {

int run_config(std::vector<std::string> args) {
    constexpr const char* kUsage = "usage: dane-relay config check [-c FILE]\n";
    auto choice = take_config_option(args);
    if (wants_help(args)) {
        std::cout << kUsage;
        return 0;
    }
    if (!choice.error.empty() || args.size() != 1 || args[0] != "check") {
        std::cerr << (choice.error.empty() ? "" : "dane-relay config: " + choice.error + "\n")
                  << kUsage;
        return 2;
    }
    auto loaded = load_choice(choice);
    if (!loaded.error.empty()) {
        std::cerr << loaded.error << "\n";
        return 1;
    }
    std::cout << loaded.name() << ": OK\n";
    return 0;
}

}  // namespace dr::relay
