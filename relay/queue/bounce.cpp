#include "relay/queue/bounce.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>

namespace dr::relay {
namespace {

constexpr std::size_t kMaxLine = 998;  // RFC 5322 §2.1.1, without the CRLF
constexpr std::string_view kCrlf = "\r\n";

bool is_wsp(char c) {
    return c == ' ' || c == '\t';
}

bool non_ascii(std::string_view s) {
    return std::any_of(s.begin(), s.end(),
                       [](char c) { return static_cast<unsigned char>(c) > 127; });
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
    return s;
}

// Field values come from the envelope and from remote servers: a CR or LF in them (a multi-line
// reply, a "+0D+0A" in an xtext) would start a new field, so every control byte becomes a space.
std::string one_line(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 32 || c == 127) c = ' ';
    return std::string(trim(out));
}

// "type; text" (RFC 3464 §2.3.6 diagnostic-type, §2.3.5 mta-name-type): an atom then ';'.
bool has_type_prefix(std::string_view s) {
    auto semi = s.find(';');
    if (semi == std::string_view::npos || semi == 0) return false;
    auto type = trim(s.substr(0, semi));
    return !type.empty() && std::all_of(type.begin(), type.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
    });
}

std::string_view after_type(std::string_view s) {
    return has_type_prefix(s) ? trim(s.substr(s.find(';') + 1)) : trim(s);
}

std::string typed(std::string_view value, std::string_view default_type) {
    auto v = one_line(value);
    if (has_type_prefix(v)) return v;
    return std::string(default_type) + "; " + v;
}

// RFC 3463 §2: class "." subject "." detail, class 2, 4 or 5, at most 3 digits each part.
bool valid_status(std::string_view s) {
    if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
    std::size_t parts = 1, digits = 0;
    for (char c : s.substr(2)) {
        if (c == '.') {
            if (digits == 0) return false;
            ++parts;
            digits = 0;
        } else if (std::isdigit(static_cast<unsigned char>(c)) && ++digits <= 3) {
        } else {
            return false;
        }
    }
    return parts == 2 && digits > 0;  // subject and detail after the class
}

std::string status_of(const DsnRecipient& r) {
    if (valid_status(r.status)) return r.status;
    return r.action == DsnAction::failed ? "5.0.0" : "4.0.0";
}

// RFC 3461 ORCPT "addr-type;address" (the server session decoded its xtext) → RFC 3464
// §2.3.1 "addr-type; address".
std::string original_recipient(std::string_view orcpt) {
    auto semi = orcpt.find(';');
    if (semi == std::string_view::npos) return "rfc822; " + one_line(orcpt);
    return one_line(orcpt.substr(0, semi)) + "; " + one_line(orcpt.substr(semi + 1));
}

// RFC 6533 §3: a non-ASCII address is of type utf-8, not rfc822.
std::string address_field(std::string_view addr) {
    return std::string(non_ascii(addr) ? "utf-8; " : "rfc822; ") + one_line(addr);
}

std::string_view notify_of(const QueuedEnvelope& env, const DsnRecipient& r) {
    for (const auto& e : env.recipients)
        if (e.address == r.address && (r.orcpt.empty() || e.orcpt == r.orcpt)) return e.notify;
    for (const auto& e : env.recipients)
        if (e.address == r.address) return e.notify;
    return {};
}

std::vector<DsnRecipient> reportable(const NoticeInput& in) {
    std::vector<DsnRecipient> out;
    for (const auto& r : in.recipients)
        if (notify_allows(notify_of(in.envelope, r), r.action)) out.push_back(r);
    return out;
}

// Physical lines (with CRLF) of a CRLF text.
std::vector<std::string_view> lines_of(std::string_view s) {
    std::vector<std::string_view> out;
    while (!s.empty()) {
        auto end = s.find(kCrlf);
        auto len = end == std::string_view::npos ? s.size() : end + 2;
        out.push_back(s.substr(0, len));
        s.remove_prefix(len);
    }
    return out;
}

std::string_view without_crlf(std::string_view line) {
    if (line.size() >= 2 && line.substr(line.size() - 2) == kCrlf) line.remove_suffix(2);
    return line;
}

bool has_long_line(std::string_view crlf_text) {
    for (auto l : lines_of(crlf_text))
        if (without_crlf(l).size() > kMaxLine) return true;
    return false;
}

// The original header lines, with any line over 998 octets folded (RFC 5322 §2.1.1), NUL → space.
std::string fix_headers(std::string_view headers) {
    std::string out;
    for (auto l : lines_of(headers)) {
        auto line = without_crlf(l);
        std::string fixed(line);
        std::replace(fixed.begin(), fixed.end(), '\0', ' ');  // RFC 2045 §2.8
        if (fixed.size() > kMaxLine)
            out += fold_field(fixed, kMaxLine);
        else
            out.append(fixed).append(kCrlf);
    }
    return out;
}

// Human-readable text wrapped at `width` on spaces; a word longer than the line limit is cut.
std::string wrap(std::string_view text, std::size_t width = 76) {
    std::string out;
    while (text.size() > width) {
        auto cut = text.substr(0, width + 1).rfind(' ');
        if (cut == std::string_view::npos || cut == 0) {
            cut = text.find(' ');
            if (cut == std::string_view::npos || cut > kMaxLine)
                cut = std::min(text.size(), kMaxLine);
        }
        out.append(trim(text.substr(0, cut))).append(kCrlf);
        text.remove_prefix(cut);
        while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    }
    if (!text.empty()) out.append(text).append(kCrlf);
    return out;
}

struct Returned {
    std::string text;
    bool full = false;
    bool body_unfit = false;  // full return was wanted, but the body cannot travel as 8bit
};

Returned returned_content(const NoticeInput& in, bool any_failed) {
    auto normalized = normalize_crlf(in.content);
    auto split = split_message(normalized);
    Returned r;
    r.full =
        return_full_content(in.envelope.ret, any_failed, normalized.size(), in.full_return_limit);
    // RFC 2045 §2.8: 8bit data has lines of at most 998 octets and no NUL. Rewriting the body
    // would change the message the sender gets back, so return the header section only.
    if (r.full && (has_long_line(split.body) || split.body.find('\0') != std::string_view::npos)) {
        r.full = false;
        r.body_unfit = true;
    }
    r.text = fix_headers(split.headers);
    if (r.full && (split.separator || !split.body.empty())) r.text.append(kCrlf).append(split.body);
    return r;
}

std::string text_part(const NoticeInput& in, const std::vector<DsnRecipient>& rs,
                      const Returned& ret) {
    bool failed =
        std::any_of(rs.begin(), rs.end(), [](auto& r) { return r.action == DsnAction::failed; });
    bool delayed =
        std::any_of(rs.begin(), rs.end(), [](auto& r) { return r.action == DsnAction::delayed; });
    std::string t = wrap("This is the mail system at host " + one_line(in.hostname) + ".") + "\r\n";
    if (failed)
        t += wrap(
                 "Your message could not be delivered to one or more of its recipients; the mail "
                 "system has given up on them. The reasons are listed below.") +
             "\r\n";
    if (delayed) {
        t += wrap(
            "Delivery of your message to one or more recipients is delayed. This is only a "
            "warning: you do not need to send your message again, the mail system keeps "
            "trying.");
        if (in.retry_until_us > 0)
            t += wrap("It will give up after " + rfc5322_date(in.retry_until_us) + ".");
        t += kCrlf;
    }
    t += wrap(ret.full ? "Your message is attached below."
                       : "The header of your message is attached below.");
    if (ret.body_unfit)
        t += wrap("(Its body had lines too long or NUL bytes, so it could not be returned.)");
    t += "\r\n" + wrap("If you need help, forward this report to your postmaster.") + "\r\n";
    t += "                   The mail system\r\n";
    for (const auto& r : rs) {
        t += kCrlf;
        std::string why = one_line(after_type(r.diagnostic));
        if (!trim(r.remote_mta).empty() && !why.empty())  // Postfix: "host h said: 550 …"
            why = "host " + one_line(after_type(r.remote_mta)) + " said: " + why;
        if (why.empty())
            why = r.action == DsnAction::failed ? "delivery failed" : "delivery delayed";
        // Appended: "..." + std::string gives a false -Wrestrict at -O3 (GCC 12, bug 105329).
        std::string line = "<";
        line.append(one_line(r.address)).append(">: ").append(why);
        t += wrap(line);
    }
    return t;
}

std::string status_part(const NoticeInput& in, const std::vector<DsnRecipient>& rs) {
    const auto& env = in.envelope;
    std::string s = fold_field("Reporting-MTA: dns; " + one_line(in.hostname));
    s += fold_field("X-Postfix-Queue-ID: " + one_line(in.queue_id));
    s += fold_field("X-Postfix-Sender: " + address_field(env.sender));
    if (!env.envid.empty())  // RFC 3464 §2.2.1: the ENVID (stored decoded from xtext)
        s += fold_field("Original-Envelope-Id: " + one_line(env.envid));
    if (env.arrival_us > 0) s += fold_field("Arrival-Date: " + rfc5322_date(env.arrival_us));
    for (const auto& r : rs) {
        s += kCrlf;
        s += fold_field("Final-Recipient: " + address_field(r.address));
        if (!r.orcpt.empty()) s += fold_field("Original-Recipient: " + original_recipient(r.orcpt));
        s += fold_field(std::string("Action: ") +
                        (r.action == DsnAction::failed ? "failed" : "delayed"));
        s += fold_field("Status: " + status_of(r));
        if (!trim(r.remote_mta).empty())
            s += fold_field("Remote-MTA: " + typed(r.remote_mta, "dns"));
        if (!trim(r.diagnostic).empty())
            s += fold_field("Diagnostic-Code: " + typed(r.diagnostic, "X-Postfix"));
        if (r.last_attempt_us > 0)
            s += fold_field("Last-Attempt-Date: " + rfc5322_date(r.last_attempt_us));
        if (r.action == DsnAction::delayed && in.retry_until_us > 0)
            s += fold_field("Will-Retry-Until: " + rfc5322_date(in.retry_until_us));
    }
    return s;
}

std::string part(std::string_view boundary, std::string_view headers, std::string_view body) {
    std::string p = "--" + std::string(boundary) + "\r\n";
    p.append(headers).append(kCrlf).append(body);
    return p.append(kCrlf);  // this CRLF belongs to the next delimiter (RFC 2046 §5.1.1)
}

}  // namespace

bool notify_allows(std::string_view notify, DsnAction action) {
    notify = trim(notify);
    if (notify.empty()) return true;
    std::string_view want = action == DsnAction::failed ? "FAILURE" : "DELAY";
    while (!notify.empty()) {
        auto comma = notify.find(',');
        auto item = trim(notify.substr(0, comma));
        if (iequals(item, "NEVER")) return false;  // RFC 3461 §4.1: NEVER stands alone
        if (iequals(item, want)) return true;
        if (comma == std::string_view::npos) break;
        notify.remove_prefix(comma + 1);
    }
    return false;
}

bool return_full_content(std::string_view ret, bool any_failed, std::size_t size,
                         std::size_t limit) {
    if (!any_failed || iequals(trim(ret), "HDRS")) return false;
    return size <= limit;
}

std::string rfc5322_date(std::int64_t us) {
    static constexpr std::array<const char*, 7> days{"Sun", "Mon", "Tue", "Wed",
                                                     "Thu", "Fri", "Sat"};
    static constexpr std::array<const char*, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::time_t t = static_cast<std::time_t>(std::max<std::int64_t>(us, 0) / 1000000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
                  tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    return buf;
}

std::string normalize_crlf(std::string_view s) {
    std::string out;
    out.reserve(s.size() + s.size() / 64 + 2);
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '\r') {
            if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
            out += kCrlf;
        } else if (c == '\n') {
            out += kCrlf;
        } else {
            out += c;
        }
    }
    if (!out.empty() && out.back() != '\n') out += kCrlf;
    return out;
}

SplitMessage split_message(std::string_view text) {
    auto is_field = [](std::string_view line) {
        auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) return false;
        return std::all_of(line.begin(), line.begin() + colon,
                           [](char c) { return c > 32 && c < 127; });  // ftext, RFC 5322 §3.6.8
    };
    std::size_t pos = 0;
    bool in_field = false;
    for (auto l : lines_of(text)) {
        auto line = without_crlf(l);
        if (line.empty()) return {text.substr(0, pos), text.substr(pos + l.size()), true};
        bool ok = is_field(line) || (in_field && is_wsp(line.front()));
        if (!ok) return {text.substr(0, pos), text.substr(pos), false};
        in_field = true;
        pos += l.size();
    }
    return {text, {}, false};
}

std::string fold_field(std::string_view field, std::size_t soft) {
    soft = std::clamp<std::size_t>(soft, 20, kMaxLine);
    auto colon = field.find(':');
    std::size_t min_break = colon == std::string_view::npos ? 1 : colon + 2;
    std::string out;
    std::string rest(field);
    while (!rest.empty() && is_wsp(rest.back())) rest.pop_back();  // no WSP-only last line
    auto break_at = [&](std::size_t from, std::size_t to, bool down) {
        for (std::size_t k = 0; from + k <= to; ++k) {
            std::size_t i = down ? to - k : from + k;
            if (i > 0 && i < rest.size() && is_wsp(rest[i]) && !is_wsp(rest[i - 1])) return i;
        }
        return std::string::npos;
    };
    while (rest.size() > soft) {
        // The last white space that keeps the line within `soft`, else the first within 998.
        auto cut = min_break <= soft ? break_at(min_break, soft, true) : std::string::npos;
        if (cut == std::string::npos) cut = break_at(std::max(soft, min_break), kMaxLine, false);
        if (cut == std::string::npos && rest.size() <= kMaxLine) break;
        if (cut == std::string::npos) {  // one unbreakable word: cut it, insert a space
            out.append(rest, 0, kMaxLine).append(kCrlf);
            // Appended: "..." + std::string gives a false -Wrestrict at -O3 (GCC 12, bug 105329).
            std::string next = " ";
            next.append(rest, kMaxLine);
            rest = std::move(next);
        } else {
            out.append(rest, 0, cut).append(kCrlf);
            rest.erase(0, cut);  // the continuation line starts with the white space
        }
        min_break = 1;
    }
    return out.append(rest).append(kCrlf);
}

std::string make_boundary(std::string_view queue_id, std::int64_t now_us, std::string_view host,
                          const std::vector<std::string_view>& parts) {
    std::string base =
        std::string(queue_id) + "." + std::to_string(now_us) + "/" + std::string(host);
    for (char& c : base)  // RFC 2046 bcharsnospace subset
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '/')
            c = '-';
    base.resize(std::min<std::size_t>(base.size(), 60));
    for (unsigned n = 0;; ++n) {
        std::string b = n == 0 ? base : base + "=" + std::to_string(n);
        if (std::none_of(parts.begin(), parts.end(),
                         [&](std::string_view p) { return p.find(b) != std::string_view::npos; }))
            return b;
    }
}

DsnFields dsn_fields(std::string_view reason) {
    constexpr std::string_view kHost = "host ", kSaid = " said: ", kInReply = " (in reply to ";
    auto said = reason.find(kSaid);
    auto in_reply = reason.rfind(kInReply);
    auto bracket = reason.find('[');
    if (!reason.starts_with(kHost) || said == std::string_view::npos ||
        in_reply == std::string_view::npos || in_reply < said || bracket > said ||
        !reason.ends_with(" command)"))
        return {"", std::string(reason)};
    auto name = reason.substr(kHost.size(), bracket - kHost.size());
    auto reply = reason.substr(said + kSaid.size(), in_reply - said - kSaid.size());
    if (name.empty() || reply.empty()) return {"", std::string(reason)};
    return {"dns; " + std::string(name), "smtp; " + std::string(reply)};
}

std::optional<Notice> compose_notice(const NoticeInput& in) {
    if (in.envelope.sender.empty()) return std::nullopt;  // RFC 5321 §4.5.5: no bounce of a bounce
    auto rs = reportable(in);
    if (rs.empty()) return std::nullopt;
    Notice n;
    n.to = in.envelope.sender;
    n.failed =
        std::count_if(rs.begin(), rs.end(), [](auto& r) { return r.action == DsnAction::failed; });
    n.delayed = rs.size() - n.failed;
    auto ret = returned_content(in, n.failed > 0);
    n.full_content = ret.full;
    auto text = text_part(in, rs, ret);
    auto status = status_part(in, rs);
    auto orig_headers = split_message(ret.text).headers;
    // RFC 6533 §6: UTF-8 in the report fields or in the returned header needs the "global" types.
    bool global = non_ascii(status) || non_ascii(orig_headers);
    auto boundary = make_boundary(in.queue_id, in.now_us, in.hostname, {text, status, ret.text});
    auto cte = [](std::string_view body) { return non_ascii(body) ? "8bit" : "7bit"; };

    std::string m;
    m += fold_field("From: MAILER-DAEMON@" + one_line(in.hostname) + " (Mail Delivery System)");
    m += fold_field("To: <" + one_line(in.envelope.sender) + ">");
    m += fold_field(n.failed > 0 ? "Subject: Undelivered Mail Returned to Sender"
                                 : "Subject: Delayed Mail (still being retried)");
    m += fold_field("Date: " + rfc5322_date(in.now_us));
    m += fold_field("Message-ID: <" + std::to_string(in.now_us) + "." + one_line(in.queue_id) +
                    "@" + one_line(in.hostname) + ">");
    m += "Auto-Submitted: auto-replied\r\n";  // RFC 3834 §5
    m += "MIME-Version: 1.0\r\n";
    m += fold_field(std::string("Content-Type: multipart/report; report-type=") +
                    (global ? "global-delivery-status" : "delivery-status") + "; boundary=\"" +
                    boundary + "\"");
    bool eightbit = non_ascii(text) || non_ascii(status) || non_ascii(ret.text) || non_ascii(n.to);
    m += std::string("Content-Transfer-Encoding: ") + (eightbit ? "8bit" : "7bit") + "\r\n";
    m += "\r\nThis is a MIME-encapsulated message.\r\n\r\n";
    m += part(
        boundary,
        std::string("Content-Description: Notification\r\nContent-Type: text/plain; charset=") +
            (non_ascii(text) ? "utf-8" : "us-ascii") +
            "\r\nContent-Transfer-Encoding: " + cte(text) + "\r\n",
        text);
    m += part(boundary,
              std::string("Content-Description: Delivery report\r\nContent-Type: message/") +
                  (global ? "global-delivery-status" : "delivery-status") +
                  "\r\nContent-Transfer-Encoding: " + cte(status) + "\r\n",
              status);
    // RFC 3462 §4 / RFC 6533 §6.3-6.4: the message or its header section.
    const char* type = ret.full ? (global ? "message/global" : "message/rfc822")
                                : (global ? "message/global-headers" : "text/rfc822-headers");
    m += part(boundary,
              std::string("Content-Description: ") +
                  (ret.full ? "Undelivered Message" : "Undelivered Message Headers") +
                  "\r\nContent-Type: " + type + "\r\nContent-Transfer-Encoding: " + cte(ret.text) +
                  "\r\n",
              ret.text);
    m += "--" + boundary + "--\r\n";
    n.message = std::move(m);
    n.eightbit = eightbit;
    n.smtputf8 = non_ascii(n.to) || non_ascii(in.hostname);
    return n;
}

}  // namespace dr::relay
