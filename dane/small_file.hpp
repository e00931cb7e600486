// Small state files (the MTA-STS policy cache, the TLSRPT counts): read whole with a size
// cap, and replaced atomically (a temporary file, fsync, rename, fsync of the directory,
// which is made if missing). Blocking: run off the event loop. Errors are texts naming the
// file. Entry points: read_small_file(), replace_file().
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace dr::dane {

// The whole file, at most `max` bytes; nullopt when absent (error stays "") or unreadable
// or larger (error says why).
std::optional<std::string> read_small_file(const std::string& path, std::size_t max,
                                           std::string& error);

// Writes `data` as dir/name, replacing any old file only once the new one is on disk;
// "" or why not (the old file is then unchanged).
std::string replace_file(const std::string& dir, const std::string& name, std::string_view data);

}  // namespace dr::dane
