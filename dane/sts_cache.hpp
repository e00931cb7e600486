// The MTA-STS policies cached on disk (RFC 8461 §5.1: a restart or an outage of the policy
// host must not lose them), one file per domain in a directory of the spool:
//   <dir>/<domain>   "dane-relay sts v1\nid: <id>\nfetched: <unix seconds>\n\n<policy file>"
// The policy is kept as fetched and parsed again on load, as strictly as when fetched;
// a file that does not read back is reported and counts as absent. Writes are atomic
// (a temporary file, fsync, rename, fsync of the directory). Blocking: run off the event
// loop. Entry points: StsCache::load(), StsCache::store().
#pragma once

#include <optional>
#include <string>

#include "dane/sts_state.hpp"

namespace dr::dane {

class StsCache {
  public:
    explicit StsCache(std::string dir) : dir_(std::move(dir)) {}

    struct Loaded {
        std::optional<StsCached> entry;  // nullopt: none cached, or unreadable (`error`)
        std::string error;               // "" when the file is absent or read back
    };
    Loaded load(const std::string& domain) const;

    // "" or why the entry could not be written (the old one, if any, is then unchanged).
    std::string store(const std::string& domain, const StsCached& entry) const;

    // The file's text for an entry, and an entry from a file's text (pure).
    static std::string format(const StsCached& entry);
    static Parsed<StsCached> parse(std::string_view file);

  private:
    std::string path_of(const std::string& domain) const;
    std::string dir_;
};

}  // namespace dr::dane
