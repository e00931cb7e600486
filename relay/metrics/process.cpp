// process_* from /proc/self (see process.hpp).
#include "relay/metrics/process.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace dr::relay {

namespace {

std::optional<std::uint64_t> number(std::string_view text) {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return v;
}

std::vector<std::string_view> words(std::string_view text) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\n')) ++i;
        std::size_t start = i;
        while (i < text.size() && text[i] != ' ' && text[i] != '\n') ++i;
        if (i > start) out.push_back(text.substr(start, i - start));
    }
    return out;
}

std::optional<std::string> slurp(const char* path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::uint64_t count_open_fds() {
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) return 0;
    std::uint64_t n = 0;
    while (const dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') ++n;
    ::closedir(d);
    return n > 0 ? n - 1 : 0;  // not the descriptor opendir itself holds
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
    // "pid (comm) state ppid …": comm is whatever the program named itself, so the fields
    // start after the last ')'. After it, field 3 (state) is word 0.
    auto close = text.rfind(')');
    if (close == std::string_view::npos) return std::nullopt;
    auto w = words(text.substr(close + 1));
    if (w.size() < 22) return std::nullopt;
    auto utime = number(w[11]), stime = number(w[12]), start = number(w[19]), vsize = number(w[20]),
         rss = number(w[21]);
    if (!utime || !stime || !start || !vsize || !rss) return std::nullopt;
    return ProcStat{*utime, *stime, *start, *vsize, *rss};
}

std::optional<std::uint64_t> parse_boot_time(std::string_view text) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto end = text.find('\n', pos);
        auto line = text.substr(pos, end == std::string_view::npos ? end : end - pos);
        if (line.starts_with("btime ")) return number(line.substr(6));
        if (end == std::string_view::npos) break;
        pos = end + 1;
    }
    return std::nullopt;
}

std::optional<ProcessStats> read_process_stats() {
    auto stat_text = slurp("/proc/self/stat");
    auto boot_text = slurp("/proc/stat");
    if (!stat_text || !boot_text) return std::nullopt;
    auto st = parse_proc_stat(*stat_text);
    auto boot = parse_boot_time(*boot_text);
    const long ticks = ::sysconf(_SC_CLK_TCK), page = ::sysconf(_SC_PAGESIZE);
    if (!st || !boot || ticks <= 0 || page <= 0) return std::nullopt;
    ProcessStats p;
    p.cpu_seconds = static_cast<double>(st->utime + st->stime) / static_cast<double>(ticks);
    p.resident_bytes = st->rss * static_cast<std::uint64_t>(page);
    p.virtual_bytes = st->vsize;
    p.start_time_seconds = static_cast<double>(*boot) +
                           static_cast<double>(st->starttime) / static_cast<double>(ticks);
    p.open_fds = count_open_fds();
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) p.max_fds = lim.rlim_cur;
    return p;
}

void render_process(Exposition& page, const ProcessStats& p) {
    page.family("process_cpu_seconds_total", "counter",
                "Total user and system CPU time spent in seconds.");
    page.sample("process_cpu_seconds_total", {}, p.cpu_seconds);
    page.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    page.sample("process_resident_memory_bytes", {}, p.resident_bytes);
    page.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    page.sample("process_virtual_memory_bytes", {}, p.virtual_bytes);
    page.family("process_start_time_seconds", "gauge",
                "Start time of the process since unix epoch in seconds.");
    page.sample("process_start_time_seconds", {}, p.start_time_seconds);
    page.family("process_open_fds", "gauge", "Number of open file descriptors.");
    page.sample("process_open_fds", {}, p.open_fds);
    page.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
    page.sample("process_max_fds", {}, p.max_fds);
}

}  // namespace dr::relay
