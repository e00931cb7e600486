// postqueue -p / -j style queue listings (see queue_list.hpp).
#include "relay/cli/queue_list.hpp"

#include <cstdio>
#include <ctime>

namespace dr::relay {
namespace {

// ID (14) + flag + size (8) + arrival (20), separated by single spaces.
constexpr int kRecipientColumn = 46;

std::string arrival_text(std::int64_t arrival_us) {
    std::time_t t = static_cast<std::time_t>(arrival_us / 1000000);
    std::tm tm{};
    ::localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S", &tm);
    return buf;
}

bool is_final(const RcptState& r) {
    return r.status == RcptStatus::delivered || r.status == RcptStatus::bounced;
}

std::string sender_text(const QueuedEnvelope& env) {
    // Postfix shows the null sender as MAILER-DAEMON.
    return env.sender.empty() ? "MAILER-DAEMON" : env.sender;
}

void append_message(std::string& out, const MessageInfo& m) {
    char line[512];
    std::snprintf(line, sizeof line, "%-14s%c %8llu %-20s %s\n", m.id.c_str(), m.held ? '!' : ' ',
                  static_cast<unsigned long long>(m.body_size),
                  arrival_text(m.envelope.arrival_us).c_str(), sender_text(m.envelope).c_str());
    out += line;
    for (std::size_t i = 0; i < m.rcpts.size(); ++i) {
        const auto& r = m.rcpts[i];
        if (is_final(r)) continue;
        if (r.status == RcptStatus::deferred && !r.reason.empty()) out += "(" + r.reason + ")\n";
        out += std::string(kRecipientColumn, ' ') + m.envelope.recipients[i].address + "\n";
    }
    out += "\n";
}

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

std::string queue_name(const MessageInfo& m) {
    if (m.held) return "hold";
    for (const auto& r : m.rcpts) {
        if (r.status == RcptStatus::deferred) return "deferred";
    }
    return "active";
}

}  // namespace

std::string format_queue_list(const std::vector<MessageInfo>& messages) {
    if (messages.empty()) return "Mail queue is empty\n";
    std::string out = "-Queue ID-      --Size-- ----Arrival Time---- -Sender/Recipient-------\n";
    std::uint64_t bytes = 0;
    for (const auto& m : messages) {
        append_message(out, m);
        bytes += m.body_size;
    }
    char tail[96];
    std::snprintf(tail, sizeof tail, "-- %llu Kbytes in %zu Request%s.\n",
                  static_cast<unsigned long long>((bytes + 1023) / 1024), messages.size(),
                  messages.size() == 1 ? "" : "s");
    return out + tail;
}

std::string format_queue_json(const std::vector<MessageInfo>& messages) {
    std::string out;
    for (const auto& m : messages) {
        out += "{\"queue_name\": " + json_string(queue_name(m)) +
               ", \"queue_id\": " + json_string(m.id) +
               ", \"arrival_time\": " + std::to_string(m.envelope.arrival_us / 1000000) +
               ", \"message_size\": " + std::to_string(m.body_size) +
               ", \"sender\": " + json_string(m.envelope.sender) + ", \"recipients\": [";
        bool first = true;
        for (std::size_t i = 0; i < m.rcpts.size(); ++i) {
            if (is_final(m.rcpts[i])) continue;
            out += first ? "" : ", ";
            first = false;
            out += "{\"address\": " + json_string(m.envelope.recipients[i].address);
            if (!m.rcpts[i].reason.empty())
                out += ", \"delay_reason\": " + json_string(m.rcpts[i].reason);
            out += "}";
        }
        out += "]}\n";
    }
    return out;
}

}  // namespace dr::relay
