// See survey_command.hpp. The checks run on the event loop; the list is read on one thread
// and the output written on another (CheckPool::next_on / done_on), so that neither file
// ever blocks the loop.
#include "relay/cli/survey_command.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <unordered_set>

#include "relay/cli/survey.hpp"

namespace dr::relay {
namespace {

using Clock = std::chrono::steady_clock;
using Seen = std::unordered_set<std::uint64_t>;  // domains by a 64-bit hash of their name

std::uint64_t key_of_domain(std::string_view domain) {
    return std::hash<std::string_view>{}(domain);
}

std::string errno_text(const std::string& file) {
    return file + ": " + std::strerror(errno);
}

// A FILE* read with POSIX getline(): lines of any length, one buffer.
struct LineReader {
    std::FILE* f = nullptr;
    char* buf = nullptr;
    std::size_t cap = 0;
    ~LineReader() {
        std::free(buf);
        if (f && f != stdin) std::fclose(f);
    }
    // The next line with its '\n' (absent on a last line without one); nullopt at the end.
    std::optional<std::string_view> next() {
        ssize_t n = ::getline(&buf, &cap, f);
        if (n < 0) return std::nullopt;
        return std::string_view(buf, static_cast<std::size_t>(n));
    }
};

// Reads an earlier run's output: tallies its lines, remembers their domains in `done`, and
// cuts off a torn last line (a run killed mid-write) so that the next line starts clean.
std::string resume(const std::string& path, SurveyTally& t, Seen& done) {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? "" : errno_text(path);
    LineReader in{::fdopen(fd, "r")};
    if (!in.f) return errno_text(path);
    off_t complete = 0;
    while (auto line = in.next()) {
        if (line->back() != '\n') break;  // torn: redone
        complete += static_cast<off_t>(line->size());
        auto rec = read_survey_line(line->substr(0, line->size() - 1));
        if (!rec) {
            ++t.unreadable;
        } else if (done.insert(key_of_domain(rec->domain)).second) {
            t.add(rec->category, rec->level);
            ++t.resumed;
        }
    }
    if (std::ferror(in.f)) return errno_text(path);
    struct stat st {};
    if (::fstat(fd, &st) != 0) return errno_text(path);
    if (st.st_size > complete && ::ftruncate(fd, complete) != 0) return errno_text(path);
    return "";
}

// Domains of the list not in `done`, for the progress line (duplicates included).
std::uint64_t count_todo(const std::string& path, const Seen& done) {
    LineReader in{std::fopen(path.c_str(), "rb")};
    std::uint64_t n = 0;
    if (!in.f) return 0;
    while (auto line = in.next()) {
        auto l = parse_domain_line(*line);
        if (l.kind == DomainLine::Kind::domain && !done.contains(key_of_domain(l.domain))) ++n;
    }
    return n;
}

// The list side, on its own thread (CheckPool::next_on): a list that stalls (a pipe, a
// slow disk) holds up only the next domain, never the checks in flight or their lines.
struct ListSide {
    explicit ListSide(const SurveyArgs& a, const Seen& d) : args(a), done(d) {}
    const SurveyArgs& args;
    const Seen& done;  // from the earlier output, read only
    Seen seen;         // listed in this run
    LineReader list;
    SurveyTally bad;  // bad lines and duplicates only
    std::uint64_t line_number = 0, skipped = 0;
    std::atomic<bool> output_failed{false};   // set by the output side: read no more
    std::atomic<std::uint64_t> bad_shown{0};  // bad.bad_lines, for the progress line
    std::string failed;                       // why the list could not be read
    bool tty = false;

    static constexpr std::uint64_t kBadLinesShown = 10;

    void bad_line(std::string_view line, const std::string& why) {
        bad.add_bad(line_number, line, why);
        bad_shown = bad.bad_lines;
        if (bad.bad_lines <= kBadLinesShown)
            std::fprintf(stderr, "%sdane-relay check: %s:%llu: not a domain name: %s\n",
                         tty ? "\r\033[K" : "", args.file.c_str(),
                         static_cast<unsigned long long>(line_number), printable(why, 120).c_str());
    }

    std::optional<CheckJob> next() {
        while (failed.empty() && !output_failed) {
            auto line = list.next();
            if (!line) break;
            ++line_number;
            if (line->back() == '\n') line->remove_suffix(1);
            auto l = parse_domain_line(*line);
            if (l.kind == DomainLine::Kind::skip) continue;
            if (l.kind == DomainLine::Kind::junk) {
                bad_line(*line, l.why);
                continue;
            }
            auto k = key_of_domain(l.domain);
            if (done.contains(k)) {
                ++skipped;
            } else if (!seen.insert(k).second) {
                ++bad.duplicates;
            } else {
                return CheckJob{line_number, std::move(l.domain)};
            }
        }
        if (failed.empty() && std::ferror(list.f)) failed = errno_text(args.file);
        return std::nullopt;
    }
};

// The output side, on its own thread (CheckPool::done_on): one line appended and flushed
// per domain, then counted.
struct OutputSide {
    explicit OutputSide(const SurveyArgs& a, ListSide& l) : args(a), list(l) {}
    const SurveyArgs& args;
    ListSide& list;
    SurveyTally tally;
    std::FILE* out = stdout;
    std::uint64_t todo = 0;
    std::string failed;  // why the output could not be written
    bool tty = false;
    Clock::time_point start = Clock::now(), shown{};

    void done_one(DomainReport r) {
        if (!failed.empty()) return;  // the output failed: nothing more is counted
        std::string line = survey_line(r);
        if (std::fwrite(line.data(), 1, line.size(), out) != line.size() || std::fflush(out) != 0) {
            failed = errno_text(args.out.empty() ? "stdout" : args.out);
            list.output_failed = true;
            return;
        }
        tally.add(survey_category(r), delivered_level(r));
        ++tally.checked;
        progress();
    }

    double elapsed() const { return std::chrono::duration<double>(Clock::now() - start).count(); }

    // Redrawn at most 5 times a second, on a tty only.
    void progress() {
        if (!tty || Clock::now() - shown < std::chrono::milliseconds(200)) return;
        shown = Clock::now();
        std::fprintf(stderr, "\r\033[Kchecked %llu/%llu, %.0f domains/s, %llu bad lines",
                     static_cast<unsigned long long>(tally.checked),
                     static_cast<unsigned long long>(todo), tally.checked / elapsed(),
                     static_cast<unsigned long long>(list.bad_shown.load()));
    }
};

struct Survey {
    explicit Survey(const SurveyArgs& a) : args(a), list(a, done), output(a, list) {}
    const SurveyArgs& args;
    Seen done;  // from the earlier output
    ListSide list;
    OutputSide output;

    // After the checks: the list side's counts joined to the output side's tally.
    SurveyTally& joined() {
        SurveyTally& t = output.tally;
        t.bad_lines = list.bad.bad_lines;
        t.duplicates = list.bad.duplicates;
        t.bad_examples = std::move(list.bad.bad_examples);
        return t;
    }

    std::string stopped() const { return !list.failed.empty() ? list.failed : output.failed; }

    void final_line(const SurveyTally& t) const {
        double s = output.elapsed();
        std::fprintf(stderr,
                     "%sdane-relay check: survey of %s: %llu checked in %.1f s (%.0f domains/s), "
                     "%llu already in the output, %llu bad lines, %llu duplicates\n",
                     output.tty ? "\r\033[K" : "", args.file.c_str(),
                     static_cast<unsigned long long>(t.checked), s, s > 0 ? t.checked / s : 0.0,
                     static_cast<unsigned long long>(list.skipped),
                     static_cast<unsigned long long>(t.bad_lines),
                     static_cast<unsigned long long>(t.duplicates));
    }
};

// Opens the list and the output (resuming it); an error text or "".
std::string open_files(Survey& s) {
    s.list.list.f = std::fopen(s.args.file.c_str(), "rb");
    if (!s.list.list.f) return errno_text(s.args.file);
    struct stat st {};
    if (::fstat(::fileno(s.list.list.f), &st) == 0 && S_ISDIR(st.st_mode))
        return s.args.file + ": is a directory";
    if (s.args.out.empty()) return "";
    if (auto e = resume(s.args.out, s.output.tally, s.done); !e.empty()) return e;
    s.output.out = std::fopen(s.args.out.c_str(), "ab");
    return s.output.out ? "" : errno_text(s.args.out);
}

}  // namespace

int run_survey(const SurveyArgs& args, boost::asio::io_context& io, CheckPool& pool) {
    Survey s(args);
    if (auto e = open_files(s); !e.empty()) {
        std::fprintf(stderr, "dane-relay check: %s\n", e.c_str());
        return 2;
    }
    s.list.tty = s.output.tty = ::isatty(STDERR_FILENO);
    if (s.output.tty) s.output.todo = count_todo(args.file, s.done);
    boost::asio::thread_pool reads(1), writes(1);
    pool.next = [&s] { return s.list.next(); };
    pool.done = [&s](const CheckJob&, DomainReport r) { s.output.done_one(std::move(r)); };
    pool.next_on = &reads;
    pool.done_on = &writes;
    start_checks(io.get_executor(), pool);
    io.run();
    reads.join();
    writes.join();
    if (s.output.out != stdout) std::fclose(s.output.out);
    if (!pool.error.empty()) {
        std::fprintf(stderr, "dane-relay check: %s\n", pool.error.c_str());
        return 2;
    }
    SurveyTally& tally = s.joined();
    s.final_line(tally);
    std::FILE* tally_to = args.out.empty() ? stderr : stdout;
    if (args.json)
        std::fprintf(tally_to, "%s\n", boost::json::serialize(tally_json(tally)).c_str());
    else
        std::fputs(render_tally(tally).c_str(), tally_to);
    if (auto why = s.stopped(); !why.empty()) {
        std::fprintf(stderr, "dane-relay check: survey stopped: %s\n", why.c_str());
        return 1;
    }
    return 0;
}

}  // namespace dr::relay
