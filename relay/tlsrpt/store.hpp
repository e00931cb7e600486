// The TLSRPT counts on disk: one file per UTC day, <dir>/<YYYY-MM-DD>.json, in Tally's
// format, replaced atomically (dane/small_file.hpp). A file that does not read back is
// renamed to <name>.bad (kept for the operator) and counts as absent. Blocking: run off
// the event loop. Entry point: Store.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "relay/tlsrpt/tally.hpp"

namespace dr::relay::tlsrpt {

class Store {
  public:
    explicit Store(std::string dir) : dir_(std::move(dir)) {}

    struct Loaded {
        std::optional<Tally> tally;  // nullopt: no file, or it was bad (`error`)
        std::string error;
    };
    Loaded load(const std::string& day) const;
    std::string save(const std::string& day, const Tally& t) const;  // "" or why not
    std::vector<std::string> days() const;  // the days with a file, oldest first

    static bool is_day(std::string_view s);  // "YYYY-MM-DD"

  private:
    std::string dir_;
};

}  // namespace dr::relay::tlsrpt
