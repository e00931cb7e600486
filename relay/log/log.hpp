// Postfix-format logging (SPEC §6): every line is "<time> <host> <name>/<role>[<pid>]: <text>",
// and the per-recipient delivery line has Postfix's field order and delay notation, so
// pflogsumm and existing parsers read our logs unchanged. Entry points: Logger::open (targets
// syslog, stderr, file:PATH), Logger::info/warning, format_delivery(), format_delay().
// Every text is made printable() on its way in (SPEC §6: no peer can forge or split a line).
// A target that cannot be opened is a start-up error (LogError); write errors are dropped.
// Without a syslog socket (/dev/log), the syslog target falls back to stderr.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "conf/config.hpp"
#include "relay/log/log_file.hpp"

namespace dr::relay {

// Postfix's process names, one per job (SPEC §6).
enum class Role { smtpd, cleanup, qmgr, smtp, bounce, master };
const char* to_string(Role r);

// Postfix's printable() with UTF-8 on: printable ASCII and well-formed UTF-8 characters from
// U+00A0 up stay; every other byte (controls, CR, LF, DEL, stray or overlong UTF-8,
// surrogates) becomes '?', and so does each C1 control and U+2028/U+2029 character.
// Applied to every line the Logger writes.
std::string printable(std::string_view text);

// A remote reply as logs, journals and notices keep it: at most kMaxReplyText bytes, cut at a
// UTF-8 character boundary and marked with "..." (Postfix keeps a bounded reply, too).
inline constexpr std::size_t kMaxReplyText = 1000;
std::string truncate_reply(std::string text);

class LogError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class Logger {
  public:
    virtual ~Logger() = default;
    // Throws LogError when the target cannot be opened. A log file it creates goes to `owner`.
    static std::unique_ptr<Logger> open(const conf::LogConfig& cfg, std::string hostname,
                                        const std::optional<FileOwner>& owner = {});

    void info(Role role, std::string_view text) { write(role, 6, printable(text)); }
    void warning(Role role, std::string_view text) {
        write(role, 4, "warning: " + printable(text));
    }
    void fatal(Role role, std::string_view text) { write(role, 2, "fatal: " + printable(text)); }

  protected:
    virtual void write(Role role, int severity, std::string_view text) = 0;
};

// "Nov 23 19:20:01 relay1 dane-relay/smtp[4711]: text" (local time, like syslog).
std::string format_line(std::chrono::system_clock::time_point when, std::string_view host,
                        std::string_view name, Role role, int pid, std::string_view text);

// Postfix's delay notation (log_adhoc.c): two significant digits below 10 s,
// whole seconds above, resolution 10 ms, trailing zeros dropped: 0.41, 1.9, 12, 0.
std::string format_delay(double seconds);

// One recipient outcome, in the field order of Postfix's smtp/qmgr lines.
struct DeliveryRecord {
    std::string queue_id;
    std::string recipient;
    std::string original_recipient;   // orig_to=, only when it differs
    std::string relay = "none";       // "host[addr]:port" or "none"
    int conn_use = 0;                 // > 1: connection reuse count, as Postfix logs it
    double delay = 0;                 // total
    double delays[4] = {0, 0, 0, 0};  // a/b/c/d (SPEC §6)
    std::string tls;                  // Postfix 3.11's tls= feature field ("dane"), if any
    std::string dsn;                  // "2.0.0"
    std::string status;               // sent | deferred | bounced | expired
    std::string text;                 // "(250 2.0.0 Ok: queued as …)" without the parentheses
};

// "QID: to=<rcpt>, [orig_to=<…>, ]relay=…, [conn_use=N, ]delay=…, delays=a/b/c/d,
// [tls=…, ]dsn=…, status=… (text)"
std::string format_delivery(const DeliveryRecord& r);

}  // namespace dr::relay
