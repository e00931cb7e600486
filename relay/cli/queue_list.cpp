// postqueue -p / -j style queue listings (see queue_list.hpp).
#include "relay/cli/queue_list.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
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

std::string queue_name(const MessageInfo& m) {
    if (m.held) return "hold";
    for (const auto& r : m.rcpts) {
        if (r.status == RcptStatus::deferred) return "deferred";
    }
    return "active";
}

}  // namespace

std::string format_queue_list_head() {
    return "-Queue ID-      --Size-- ----Arrival Time---- -Sender/Recipient-------\n";
}

std::string format_queue_list_entries(const std::vector<MessageInfo>& messages) {
    std::string out;
    for (const auto& m : messages) append_message(out, m);
    return out;
}

std::string format_queue_list_tail(std::uint64_t bytes, std::size_t messages) {
    char tail[96];
    std::snprintf(tail, sizeof tail, "-- %llu Kbytes in %zu Request%s.\n",
                  static_cast<unsigned long long>((bytes + 1023) / 1024), messages,
                  messages == 1 ? "" : "s");
    return tail;
}

std::string format_queue_list(const std::vector<MessageInfo>& messages) {
    if (messages.empty()) return "Mail queue is empty\n";
    std::uint64_t bytes = 0;
    for (const auto& m : messages) bytes += m.body_size;
    std::string out = format_queue_list_head();
    out += format_queue_list_entries(messages);
    out += format_queue_list_tail(bytes, messages.size());
    return out;
}

std::string format_queue_json(const std::vector<MessageInfo>& messages) {
    namespace json = boost::json;
    std::string out;
    for (const auto& m : messages) {
        json::array rcpts;
        for (std::size_t i = 0; i < m.rcpts.size(); ++i) {
            if (is_final(m.rcpts[i])) continue;
            json::object r{{"address", m.envelope.recipients[i].address}};
            if (!m.rcpts[i].reason.empty()) r["delay_reason"] = m.rcpts[i].reason;
            rcpts.push_back(std::move(r));
        }
        json::object o{{"queue_name", queue_name(m)},
                       {"queue_id", m.id},
                       {"arrival_time", m.envelope.arrival_us / 1000000},
                       {"message_size", m.body_size},
                       {"sender", m.envelope.sender},
                       {"recipients", std::move(rcpts)}};
        out += json::serialize(o) + "\n";
    }
    return out;
}

}  // namespace dr::relay
