// `dane-relay config check` (see config_command.hpp).
#include "relay/cli/config_command.hpp"

#include <iostream>

#include "relay/cli/options.hpp"
#include "relay/cli/server_files.hpp"

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
    // What serve reads next at start: a config that parses but names a bad file is not OK.
    auto problems = named_file_problems(loaded.config);
    for (const auto& p : problems) std::cerr << p << "\n";
    if (!problems.empty()) return 1;
    std::cout << loaded.name() << ": OK\n";
    return 0;
}

}  // namespace dr::relay
