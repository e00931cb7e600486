// Queue file records: framing, CRC-32, envelope and status payloads (see SPOOL.md).
#include "relay/spool/format.hpp"

#include <zlib.h>

#include <array>
#include <charconv>
#include <cstdio>

namespace dr::relay {
namespace {

// Splits on `sep`; an empty input yields one empty piece.
std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (true) {
        auto pos = s.find(sep, start);
        if (pos == std::string_view::npos) {
            out.push_back(s.substr(start));
            return out;
        }
        out.push_back(s.substr(start, pos - start));
        start = pos + 1;
    }
}

template <typename T>
bool parse_int(std::string_view s, T& out, int base = 10) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
    return ec == std::errc{} && p == s.data() + s.size();
}

bool is_lower_hex(std::string_view s) {
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

std::optional<RcptStatus> parse_status(std::string_view s) {
    for (auto st :
         {RcptStatus::pending, RcptStatus::delivered, RcptStatus::deferred, RcptStatus::bounced}) {
        if (to_string(st) == s) return st;
    }
    return std::nullopt;
}

void add_line(std::string& out, std::string_view key, std::initializer_list<std::string_view> v) {
    out += key;
    for (auto field : v) {
        out += '\t';
        out += escape_field(field);
    }
    out += '\n';
}

bool apply_envelope_line(QueuedEnvelope& env, const std::vector<std::string>& f) {
    const std::string& key = f[0];
    auto want = [&](std::size_t n) { return f.size() == n + 1; };
    if (key == "sender" && want(1))
        env.sender = f[1];
    else if (key == "envid" && want(1))
        env.envid = f[1];
    else if (key == "ret" && want(1))
        env.ret = f[1];
    else if (key == "smtputf8" && want(1))
        env.smtputf8 = f[1] == "1";
    else if (key == "8bitmime" && want(1))
        // RFC 6152: BODY=7BIT says what an absent BODY says, so it is stored as absent.
        env.body = f[1] == "1" ? smtp::BodyType::eight_bit_mime : smtp::BodyType::unspecified;
    else if (key == "arrival" && want(1))
        return parse_int(f[1], env.arrival_us);
    else if (key == "client" && want(2))
        env.client_name = f[1], env.client_addr = f[2];
    else if (key == "helo" && want(1))
        env.helo = f[1];
    else if (key == "auth" && want(1))
        env.auth_user = f[1];
    else if (key == "requiretls" && want(1) && f[1] == "1")
        env.requiretls = true;
    else if (key == "tls-required" && want(1) && f[1] == "no")
        env.tls_optional = true;
    else if (key == "rcpt" && want(3))
        env.recipients.push_back({.address = f[1], .notify = f[3], .orcpt = f[2]});
    else
        return false;  // unknown keys are corruption: a newer format bumps the magic
    return true;
}

}  // namespace

// zlib's CRC-32 (the same IEEE polynomial and conditioning), several times faster than a
// byte-wise table: every body is summed when written, checked and sent.
std::uint32_t crc32(std::string_view data, std::uint32_t crc) {
    return static_cast<std::uint32_t>(
        ::crc32_z(crc, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

std::string encode_record_header(RecordType type, std::uint64_t length, std::uint32_t crc) {
    char buf[kRecordHeaderSize + 1];
    std::snprintf(buf, sizeof buf, "%c %016llx %08x\n", static_cast<char>(type),
                  static_cast<unsigned long long>(length), static_cast<unsigned>(crc));
    return std::string(buf, kRecordHeaderSize);
}

std::string encode_record(RecordType type, std::string_view payload) {
    std::string out = encode_record_header(type, payload.size(), crc32(payload));
    out += payload;
    out += '\n';
    return out;
}

std::optional<RecordHeader> parse_record_header(std::string_view b) {
    if (b.size() < kRecordHeaderSize) return std::nullopt;
    char t = b[0];
    if (t != 'E' && t != 'B' && t != 'S' && t != 'H' && t != 'N' && t != 'D') return std::nullopt;
    if (b[1] != ' ' || b[18] != ' ' || b[27] != '\n') return std::nullopt;
    auto len = b.substr(2, 16);
    auto crc = b.substr(19, 8);
    RecordHeader h{static_cast<RecordType>(t), 0, 0};
    if (!is_lower_hex(len) || !is_lower_hex(crc)) return std::nullopt;
    if (!parse_int(len, h.length, 16) || !parse_int(crc, h.crc, 16)) return std::nullopt;
    // No record is near 2^48 bytes; the cap keeps offset arithmetic free of overflow.
    if (h.length > kMaxRecordLength) return std::nullopt;
    return h;
}

bool record_payload_ok(const RecordHeader& h, std::string_view b) {
    if (b.size() != h.length + kRecordTrailerSize || b.back() != '\n') return false;
    return crc32(b.substr(0, h.length)) == h.crc;
}

std::string escape_field(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::optional<std::string> unescape_field(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\') {
            out += s[i];
            continue;
        }
        if (++i == s.size()) return std::nullopt;
        switch (s[i]) {
            case '\\':
                out += '\\';
                break;
            case 't':
                out += '\t';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            default:
                return std::nullopt;
        }
    }
    return out;
}

bool is_spool_magic(std::string_view head) {
    return head == kSpoolMagic || head == kSpoolMagic2;
}

bool needs_version_2(const QueuedEnvelope& env) {
    return env.requiretls || env.tls_optional;
}

std::string encode_envelope(const QueuedEnvelope& env) {
    std::string out;
    add_line(out, "sender", {env.sender});
    add_line(out, "envid", {env.envid});
    add_line(out, "ret", {env.ret});
    add_line(out, "smtputf8", {env.smtputf8 ? "1" : "0"});
    add_line(out, "8bitmime", {env.body == smtp::BodyType::eight_bit_mime ? "1" : "0"});
    add_line(out, "arrival", {std::to_string(env.arrival_us)});
    add_line(out, "client", {env.client_name, env.client_addr});
    add_line(out, "helo", {env.helo});
    add_line(out, "auth", {env.auth_user});
    if (env.requiretls) add_line(out, "requiretls", {"1"});  // version 2 keys: only when set
    if (env.tls_optional) add_line(out, "tls-required", {"no"});
    for (const auto& r : env.recipients) add_line(out, "rcpt", {r.address, r.orcpt, r.notify});
    return out;
}

// Parses tab-separated, escaped lines; every line ends with '\n'.
static std::optional<std::vector<std::vector<std::string>>> parse_lines(std::string_view payload) {
    std::vector<std::vector<std::string>> lines;
    if (payload.empty()) return lines;
    if (payload.back() != '\n') return std::nullopt;
    payload.remove_suffix(1);
    for (auto line : split(payload, '\n')) {
        std::vector<std::string> fields;
        for (auto raw : split(line, '\t')) {
            auto f = unescape_field(raw);
            if (!f) return std::nullopt;
            fields.push_back(std::move(*f));
        }
        lines.push_back(std::move(fields));
    }
    return lines;
}

std::optional<QueuedEnvelope> decode_envelope(std::string_view payload) {
    auto lines = parse_lines(payload);
    if (!lines) return std::nullopt;
    QueuedEnvelope env;
    for (const auto& f : *lines) {
        if (!apply_envelope_line(env, f)) return std::nullopt;
    }
    return env;
}

std::string encode_status(const std::vector<StatusUpdate>& updates) {
    std::string out;
    for (const auto& u : updates) {
        add_line(out, std::to_string(u.rcpt),
                 {to_string(u.state.status), std::to_string(u.state.attempts),
                  std::to_string(u.state.next_attempt_us), u.state.dsn, u.state.reason});
    }
    return out;
}

std::optional<std::vector<StatusUpdate>> decode_status(std::string_view payload) {
    auto lines = parse_lines(payload);
    if (!lines) return std::nullopt;
    std::vector<StatusUpdate> out;
    for (const auto& f : *lines) {
        if (f.size() != 6) return std::nullopt;
        StatusUpdate u;
        auto st = parse_status(f[1]);
        if (!st || !parse_int(f[0], u.rcpt) || !parse_int(f[2], u.state.attempts) ||
            !parse_int(f[3], u.state.next_attempt_us))
            return std::nullopt;
        u.state.status = *st;
        u.state.dsn = f[4];
        u.state.reason = f[5];
        out.push_back(std::move(u));
    }
    return out;
}

}  // namespace dr::relay
