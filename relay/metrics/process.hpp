// The usual process_* figures of Prometheus clients, read from /proc/self (Linux):
// CPU time, resident and virtual memory, start time, open and allowed descriptors.
// Entry points: read_process_stats() (nullopt when /proc cannot be read), the pure parsers
// parse_proc_stat() and parse_boot_time() it uses, and render_process().
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "relay/metrics/exposition.hpp"

namespace dr::relay {

struct ProcessStats {
    double cpu_seconds = 0;  // user + system
    std::uint64_t resident_bytes = 0;
    std::uint64_t virtual_bytes = 0;
    double start_time_seconds = 0;  // since the Unix epoch
    std::uint64_t open_fds = 0;
    std::uint64_t max_fds = 0;  // the soft RLIMIT_NOFILE
};

// Fields of /proc/self/stat (proc(5)): utime, stime, starttime (clock ticks), vsize
// (bytes), rss (pages). The command name may hold blanks and parentheses.
struct ProcStat {
    std::uint64_t utime = 0, stime = 0, starttime = 0, vsize = 0, rss = 0;
};
std::optional<ProcStat> parse_proc_stat(std::string_view text);
// "btime N" of /proc/stat: the boot time, seconds since the epoch.
std::optional<std::uint64_t> parse_boot_time(std::string_view text);

// Reads /proc (in-memory files: no disk I/O, safe on an event loop).
std::optional<ProcessStats> read_process_stats();

void render_process(Exposition& page, const ProcessStats& p);

}  // namespace dr::relay
