#include "relay/log/log.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

namespace dr::relay {

const char* to_string(Role r) {
    switch (r) {
        case Role::smtpd:
            return "smtpd";
        case Role::cleanup:
            return "cleanup";
        case Role::qmgr:
            return "qmgr";
        case Role::smtp:
            return "smtp";
        case Role::bounce:
            return "bounce";
        case Role::master:
            return "master";
    }
    return "?";
}

namespace {

std::string syslog_time(std::chrono::system_clock::time_point when) {
    std::time_t t = std::chrono::system_clock::to_time_t(when);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%b %e %H:%M:%S", &tm);  // RFC 3164 TIMESTAMP
    return buf;
}

std::string tag(std::string_view name, Role role, int pid) {
    return std::string(name) + "/" + to_string(role) + "[" + std::to_string(pid) + "]: ";
}

// Plain-text targets: stderr or a file, one full line per write(2) (O_APPEND
// keeps concurrent writers from interleaving lines).
class StreamLogger : public Logger {
  public:
    StreamLogger(int fd, bool owned, std::string host, std::string name)
        : fd_(fd), owned_(owned), host_(std::move(host)), name_(std::move(name)) {}
    ~StreamLogger() override {
        if (owned_) ::close(fd_);
    }

  protected:
    void write(Role role, int, std::string_view text) override {
        std::string line =
            format_line(std::chrono::system_clock::now(), host_, name_, role, ::getpid(), text);
        line += '\n';
        [[maybe_unused]] auto n = ::write(fd_, line.data(), line.size());
    }

  private:
    int fd_;
    bool owned_;
    std::string host_, name_;
};

// syslog over /dev/log (RFC 3164 framing as glibc's syslog(3) sends it), so
// each line can carry its own "name/role" tag; facility mail.
class SyslogLogger : public Logger {
  public:
    explicit SyslogLogger(std::string name) : name_(std::move(name)) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", "/dev/log");
        if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            if (fd_ >= 0) ::close(fd_);
            throw LogError("no syslog daemon listens on /dev/log");
        }
    }
    ~SyslogLogger() override { ::close(fd_); }

  protected:
    void write(Role role, int severity, std::string_view text) override {
        constexpr int kMail = 2;
        // Appended: "..." + std::string gives a false -Wrestrict at -O3 (GCC 12, bug 105329).
        std::string msg = "<";
        msg.append(std::to_string(kMail * 8 + severity)).append(">");
        msg.append(syslog_time(std::chrono::system_clock::now())).append(" ");
        msg.append(tag(name_, role, ::getpid())).append(text);
        [[maybe_unused]] auto n = ::send(fd_, msg.data(), msg.size(), MSG_NOSIGNAL);
    }

  private:
    int fd_ = -1;
    std::string name_;
};

}  // namespace

std::unique_ptr<Logger> Logger::open(const conf::LogConfig& cfg, std::string hostname,
                                     const std::optional<FileOwner>& owner) {
    using Kind = conf::LogTarget::Kind;
    switch (cfg.target.kind) {
        case Kind::standard_error:
            return std::make_unique<StreamLogger>(STDERR_FILENO, false, std::move(hostname),
                                                  cfg.syslog_name);
        case Kind::syslog:
            // Containers often have no syslog daemon: say so once and use
            // stderr (journald and container runtimes collect it) rather
            // than refusing to start on the default configuration.
            try {
                return std::make_unique<SyslogLogger>(cfg.syslog_name);
            } catch (const LogError& e) {
                std::fprintf(stderr, "dane-relay: %s; logging to stderr\n", e.what());
                return std::make_unique<StreamLogger>(STDERR_FILENO, false, std::move(hostname),
                                                      cfg.syslog_name);
            }
        case Kind::file: {
            std::string error;
            int fd = open_log_file(cfg.target.path, owner, "log file", error);
            if (fd < 0) throw LogError(error);
            return std::make_unique<StreamLogger>(fd, true, std::move(hostname), cfg.syslog_name);
        }
    }
    throw LogError("unknown log target " + cfg.target.to_string());
}

namespace {

struct Utf8Char {
    std::size_t len = 0;  // 0: not a well-formed UTF-8 character
    bool keep = false;    // printable() keeps it
};

// The well-formed multi-byte UTF-8 character at the start of `s`, if any.
Utf8Char utf8_char(std::string_view s) {
    auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char c = b(0);
    std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (len == 0 || c > 0xF4 || s.size() < len) return {};
    char32_t cp = c & (0x7F >> len);
    for (std::size_t i = 1; i < len; ++i) {
        if ((b(i) & 0xC0) != 0x80) return {};
        cp = (cp << 6) | (b(i) & 0x3F);
    }
    const char32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {};
    // C1 controls and the Unicode line separators are one '?' each.
    return {len, cp >= 0xA0 && cp != 0x2028 && cp != 0x2029};
}

}  // namespace

std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7F) {
            out += text[i++];
        } else if (auto u = utf8_char(text.substr(i)); u.len > 0) {
            if (u.keep)
                out.append(text.substr(i, u.len));
            else
                out += '?';
            i += u.len;
        } else {
            out += '?';
            ++i;
        }
    }
    return out;
}

std::string truncate_reply(std::string text) {
    if (text.size() <= kMaxReplyText) return text;
    std::size_t cut = kMaxReplyText - 3;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
    text += "...";
    return text;
}

std::string format_line(std::chrono::system_clock::time_point when, std::string_view host,
                        std::string_view name, Role role, int pid, std::string_view text) {
    return syslog_time(when) + " " + std::string(host) + " " + tag(name, role, pid) +
           std::string(text);
}

std::string format_delay(double seconds) {
    if (!(seconds > 0)) return "0";
    if (seconds >= 10) return std::to_string(static_cast<long long>(seconds));
    // Two significant digits, truncated (Postfix never rounds a delay up),
    // at most two decimals.
    long long hundredths = static_cast<long long>(seconds * 100 + 1e-9);
    if (seconds >= 1) hundredths -= hundredths % 10;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lld.%02lld", hundredths / 100, hundredths % 100);
    std::string s = buf;
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
    return s;
}

std::string format_delivery(const DeliveryRecord& r) {
    std::string s = r.queue_id + ": to=<" + r.recipient + ">, ";
    if (!r.original_recipient.empty() && r.original_recipient != r.recipient)
        s += "orig_to=<" + r.original_recipient + ">, ";
    s += "relay=" + r.relay + ", ";
    if (r.conn_use > 1) s += "conn_use=" + std::to_string(r.conn_use) + ", ";
    s += "delay=" + format_delay(r.delay) + ", delays=" + format_delay(r.delays[0]) + "/" +
         format_delay(r.delays[1]) + "/" + format_delay(r.delays[2]) + "/" +
         format_delay(r.delays[3]) + ", ";
    if (!r.tls.empty()) s += "tls=" + r.tls + ", ";
    s += "dsn=" + r.dsn + ", status=" + r.status + " (" + r.text + ")";
    return s;
}

}  // namespace dr::relay
