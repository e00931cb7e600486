// RFC 3464 notices: each notice is parsed back (MIME parts split by the boundary, headers and
// delivery-status fields unfolded) and every header, field and rule is checked on the result.
#include "relay/queue/bounce.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace dr::relay {
namespace {

using namespace std::string_literals;

constexpr std::int64_t kNow = 1795472339000000;      // Mon, 23 Nov 2026 22:18:59 +0000
constexpr std::int64_t kArrival = 1795468739000000;  // one hour earlier

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Header section → fields (lower-case name → unfolded values, in order).
using Fields = std::multimap<std::string, std::string>;

Fields parse_fields(std::string_view text) {
    Fields f;
    std::string name, value;
    auto flush = [&] {
        if (!name.empty()) f.emplace(lower(name), value);
        name.clear();
    };
    while (!text.empty()) {
        auto end = text.find("\r\n");
        std::string_view line = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 2);
        if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
            value += std::string(line);  // unfolding: just remove the CRLF (RFC 5322 §2.2.3)
            continue;
        }
        flush();
        auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        name = std::string(line.substr(0, colon));
        auto v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        value = std::string(v);
    }
    flush();
    return f;
}

std::string field(const Fields& f, const std::string& name) {
    auto it = f.find(lower(name));
    return it == f.end() ? "<absent>" : it->second;
}

// The text part with its line breaks turned back into spaces.
std::string unwrap(std::string s) {
    for (auto p = s.find("\r\n"); p != std::string::npos; p = s.find("\r\n", p))
        s.replace(p, 2, " ");
    return s;
}

struct Entity {
    Fields headers;
    std::string body;
};

Entity parse_entity(std::string_view text) {
    auto sep = text.find("\r\n\r\n");
    if (sep == std::string_view::npos) return {parse_fields(text), ""};
    return {parse_fields(text.substr(0, sep + 2)), std::string(text.substr(sep + 4))};
}

std::string boundary_of(const std::string& content_type) {
    auto p = content_type.find("boundary=\"");
    if (p == std::string::npos) return "";
    p += 10;
    return content_type.substr(p, content_type.find('"', p) - p);
}

// RFC 2046 §5.1.1: delimiter = CRLF "--" boundary; the first may start the body.
std::vector<Entity> mime_parts(const std::string& body, const std::string& boundary) {
    std::vector<Entity> parts;
    std::string delim = "\r\n--" + boundary;
    auto pos = body.find(delim);
    EXPECT_NE(pos, std::string::npos);
    while (pos != std::string::npos) {
        pos += delim.size();
        if (body.compare(pos, 2, "--") == 0) {
            EXPECT_EQ(body.substr(pos), "--\r\n");
            return parts;
        }
        EXPECT_EQ(body.compare(pos, 2, "\r\n"), 0);
        pos += 2;
        auto next = body.find(delim, pos);
        if (next == std::string::npos) break;
        parts.push_back(parse_entity(std::string_view(body).substr(pos, next - pos)));
        pos = next;
    }
    ADD_FAILURE() << "no closing delimiter";
    return parts;
}

// message/delivery-status body → per-message fields, then one Fields per recipient.
std::vector<Fields> status_groups(const std::string& body) {
    std::vector<Fields> groups;
    std::string_view rest = body;
    while (!rest.empty()) {
        auto end = rest.find("\r\n\r\n");
        auto group = rest.substr(0, end == std::string_view::npos ? rest.size() : end + 2);
        groups.push_back(parse_fields(group));
        rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 4);
    }
    return groups;
}

// CRLF everywhere, no line over 998 octets, a final CRLF.
void expect_wellformed(const std::string& m) {
    ASSERT_GE(m.size(), 2u);
    EXPECT_EQ(m.substr(m.size() - 2), "\r\n");
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (m[i] == '\n') {
            ASSERT_TRUE(i > 0 && m[i - 1] == '\r') << "bare LF at " << i;
            EXPECT_LE(i - 1 - line_start, 998u) << "long line at " << line_start;
            line_start = i + 1;
        } else if (m[i] == '\r') {
            ASSERT_TRUE(i + 1 < m.size() && m[i + 1] == '\n') << "bare CR at " << i;
        }
    }
}

struct Parsed {
    Entity top;
    std::vector<Entity> parts;
    std::vector<Fields> status;
};

Parsed parse_notice(const Notice& n) {
    expect_wellformed(n.message);
    Parsed p;
    p.top = parse_entity(n.message);
    auto boundary = boundary_of(field(p.top.headers, "Content-Type"));
    EXPECT_FALSE(boundary.empty());
    // The body starts with a preamble; prefix CRLF so the first delimiter is found uniformly.
    p.parts = mime_parts("\r\n" + p.top.body, boundary);
    if (p.parts.size() == 3) p.status = status_groups(p.parts[1].body);
    return p;
}

const std::string kOriginal =
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Subject: Hello\r\n"
    " world\r\n"
    "Message-ID: <m1@example.org>\r\n"
    "\r\n"
    "Hi Bob,\r\n"
    "\r\n"
    "-- \r\n"
    "Alice\r\n";

NoticeInput base_input(std::string content = kOriginal) {
    NoticeInput in;
    in.hostname = "relay.example.com";
    in.queue_id = "4QXHL50ZKJZ";
    in.envelope.sender = "alice@example.org";
    in.envelope.arrival_us = kArrival;
    in.envelope.recipients = {
        {.address = "bob@example.net", .notify = "", .orcpt = "rfc822;bob@example.net"},
        {.address = "carol@example.net", .notify = "", .orcpt = ""}};
    in.content = "";
    in.now_us = kNow;
    in.recipients = {{"bob@example.net", "rfc822;bob@example.net", DsnAction::failed, "5.1.1",
                      "smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected",
                      "dns; mx.example.net", kNow - 1000000}};
    // NoticeInput holds a view: keep the content alive until the next base_input() call.
    static std::string storage;
    storage = std::move(content);
    in.content = storage;
    return in;
}

TEST(Bounce, FailedNoticeEveryHeaderAndField) {
    auto in = base_input();
    in.envelope.envid = "QQ+123";
    auto n = compose_notice(in);
    ASSERT_TRUE(n);
    EXPECT_EQ(n->to, "alice@example.org");
    EXPECT_EQ(n->failed, 1u);
    EXPECT_EQ(n->delayed, 0u);
    EXPECT_TRUE(n->full_content);
    EXPECT_FALSE(n->eightbit);
    EXPECT_FALSE(n->smtputf8);
    auto p = parse_notice(*n);
    const auto& h = p.top.headers;
    EXPECT_EQ(field(h, "From"), "MAILER-DAEMON@relay.example.com (Mail Delivery System)");
    EXPECT_EQ(field(h, "To"), "<alice@example.org>");
    EXPECT_EQ(field(h, "Subject"), "Undelivered Mail Returned to Sender");
    EXPECT_EQ(field(h, "Date"), "Mon, 23 Nov 2026 22:18:59 +0000");
    EXPECT_EQ(field(h, "Message-ID"), "<1795472339000000.4QXHL50ZKJZ@relay.example.com>");
    EXPECT_EQ(field(h, "Auto-Submitted"), "auto-replied");
    EXPECT_EQ(field(h, "MIME-Version"), "1.0");
    auto ct = field(h, "Content-Type");
    EXPECT_EQ(ct.rfind("multipart/report; report-type=delivery-status;", 0), 0u) << ct;
    EXPECT_EQ(field(h, "Content-Transfer-Encoding"), "7bit");
    EXPECT_EQ(h.size(), 9u);

    ASSERT_EQ(p.parts.size(), 3u);
    EXPECT_EQ(field(p.parts[0].headers, "Content-Type"), "text/plain; charset=us-ascii");
    EXPECT_NE(p.parts[0].body.find("This is the mail system at host relay.example.com."),
              std::string::npos);
    EXPECT_NE(p.parts[0].body.find(
                  "<bob@example.net>: host mx.example.net said: 550 5.1.1 <bob@example.net>:\r\n"
                  "Recipient address rejected"),
              std::string::npos)
        << p.parts[0].body;
    EXPECT_NE(p.parts[0].body.find("Your message is attached below."), std::string::npos);

    EXPECT_EQ(field(p.parts[1].headers, "Content-Type"), "message/delivery-status");
    ASSERT_EQ(p.status.size(), 2u);
    const auto& msg = p.status[0];
    EXPECT_EQ(field(msg, "Reporting-MTA"), "dns; relay.example.com");
    EXPECT_EQ(field(msg, "X-Postfix-Queue-ID"), "4QXHL50ZKJZ");
    EXPECT_EQ(field(msg, "X-Postfix-Sender"), "rfc822; alice@example.org");
    EXPECT_EQ(field(msg, "Original-Envelope-Id"),
              "QQ+123");  // as stored: decoded by the server session
    EXPECT_EQ(field(msg, "Arrival-Date"), "Mon, 23 Nov 2026 21:18:59 +0000");
    const auto& r = p.status[1];
    EXPECT_EQ(field(r, "Final-Recipient"), "rfc822; bob@example.net");
    EXPECT_EQ(field(r, "Original-Recipient"), "rfc822; bob@example.net");
    EXPECT_EQ(field(r, "Action"), "failed");
    EXPECT_EQ(field(r, "Status"), "5.1.1");
    EXPECT_EQ(field(r, "Remote-MTA"), "dns; mx.example.net");
    EXPECT_EQ(field(r, "Diagnostic-Code"),
              "smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected");
    EXPECT_EQ(field(r, "Last-Attempt-Date"), "Mon, 23 Nov 2026 22:18:58 +0000");
    EXPECT_EQ(field(r, "Will-Retry-Until"), "<absent>");

    EXPECT_EQ(field(p.parts[2].headers, "Content-Type"), "message/rfc822");
    EXPECT_EQ(field(p.parts[2].headers, "Content-Transfer-Encoding"), "7bit");
    EXPECT_EQ(p.parts[2].body, kOriginal);  // returned byte for byte
}

TEST(Bounce, DsnFieldsFromTheLoggedReason) {
    // Postfix's wording for a remote reply: Remote-MTA and the reply itself.
    auto f = dsn_fields(
        "host mx.example.net[192.0.2.1] said: 550 5.1.1 <b@x>: no (in reply to RCPT TO command)");
    EXPECT_EQ(f.remote_mta, "dns; mx.example.net");
    EXPECT_EQ(f.diagnostic, "smtp; 550 5.1.1 <b@x>: no");
    // A reply that quotes the suffix itself: the last "(in reply to" is ours.
    f = dsn_fields("host h[::1] said: 554 x (in reply to y) (in reply to end of DATA command)");
    EXPECT_EQ(f.remote_mta, "dns; h");
    EXPECT_EQ(f.diagnostic, "smtp; 554 x (in reply to y)");
    // Our own verdicts name no remote MTA.
    for (std::string own :
         {"Domain null-mx.test does not accept mail (nullMX)", "Server certificate not verified",
          "host h said: x", "host [1.2.3.4] said:  (in reply to MAIL FROM command)"}) {
        f = dsn_fields(own);
        EXPECT_EQ(f.remote_mta, "") << own;
        EXPECT_EQ(f.diagnostic, own);
    }
}

TEST(Bounce, NullSenderGetsNoNotice) {
    auto in = base_input();
    in.envelope.sender = "";
    EXPECT_FALSE(compose_notice(in));
}

TEST(Bounce, NotifyRules) {
    EXPECT_TRUE(notify_allows("", DsnAction::failed));
    EXPECT_TRUE(notify_allows("", DsnAction::delayed));  // Postfix default, timer decides
    EXPECT_FALSE(notify_allows("NEVER", DsnAction::failed));
    EXPECT_FALSE(notify_allows("never", DsnAction::delayed));
    EXPECT_TRUE(notify_allows("SUCCESS,FAILURE", DsnAction::failed));
    EXPECT_FALSE(notify_allows("SUCCESS,FAILURE", DsnAction::delayed));
    EXPECT_TRUE(notify_allows("DELAY, failure", DsnAction::delayed));
    EXPECT_FALSE(notify_allows("SUCCESS", DsnAction::failed));
    EXPECT_FALSE(notify_allows("SUCCESS,DELAY", DsnAction::failed));
}

TEST(Bounce, NotifyNeverSuppresses) {
    auto in = base_input();
    in.envelope.recipients[0].notify = "NEVER";
    EXPECT_FALSE(compose_notice(in));
    in.envelope.recipients[0].notify = "SUCCESS,DELAY";
    EXPECT_FALSE(compose_notice(in));
    in.envelope.recipients[0].notify = "SUCCESS,FAILURE";
    EXPECT_TRUE(compose_notice(in));
}

TEST(Bounce, OnlyRecipientsThatAskedAreReported) {
    auto in = base_input();
    in.envelope.recipients[0].notify = "NEVER";
    in.recipients.push_back({"carol@example.net", "", DsnAction::failed, "5.7.1",
                             "smtp; 554 5.7.1 Rejected", "dns; mx.example.net", kNow});
    auto n = compose_notice(in);
    ASSERT_TRUE(n);
    auto p = parse_notice(*n);
    ASSERT_EQ(p.status.size(), 2u);
    EXPECT_EQ(field(p.status[1], "Final-Recipient"), "rfc822; carol@example.net");
    EXPECT_EQ(field(p.status[1], "Original-Recipient"), "<absent>");
    EXPECT_EQ(p.parts[0].body.find("bob@"), std::string::npos);
}

TEST(Bounce, DelayNotice) {
    auto in = base_input();
    in.retry_until_us = kNow + 4 * 86400 * 1000000LL;
    in.recipients[0].action = DsnAction::delayed;
    in.recipients[0].status = "4.7.5";
    in.recipients[0].diagnostic = "X-Postfix; Server certificate not verified";
    auto n = compose_notice(in);
    ASSERT_TRUE(n);
    EXPECT_EQ(n->delayed, 1u);
    EXPECT_FALSE(n->full_content);
    auto p = parse_notice(*n);
    EXPECT_EQ(field(p.top.headers, "Subject"), "Delayed Mail (still being retried)");
    ASSERT_EQ(p.status.size(), 2u);
    EXPECT_EQ(field(p.status[1], "Action"), "delayed");
    EXPECT_EQ(field(p.status[1], "Status"), "4.7.5");
    EXPECT_EQ(field(p.status[1], "Will-Retry-Until"), "Fri, 27 Nov 2026 22:18:59 +0000");
    EXPECT_EQ(field(p.status[1], "Diagnostic-Code"), "X-Postfix; Server certificate not verified");
    EXPECT_NE(unwrap(p.parts[0].body).find("This is only a warning: you do not need to send"),
              std::string::npos);
    EXPECT_EQ(field(p.parts[2].headers, "Content-Type"), "text/rfc822-headers");
    EXPECT_EQ(p.parts[2].body, kOriginal.substr(0, kOriginal.find("\r\n\r\n") + 2));

    in.envelope.recipients[0].notify = "FAILURE";  // no DELAY: no delay notice
    EXPECT_FALSE(compose_notice(in));
    in.envelope.recipients[0].notify = "DELAY";
    EXPECT_TRUE(compose_notice(in));
}

TEST(Bounce, MixedActionsIsABounceWithBoth) {
    auto in = base_input();
    in.recipients.push_back({"carol@example.net", "", DsnAction::delayed, "4.4.1",
                             "connect to mx.example.net: Connection refused", "", 0});
    auto n = compose_notice(in);
    ASSERT_TRUE(n);
    EXPECT_EQ(n->failed, 1u);
    EXPECT_EQ(n->delayed, 1u);
    auto p = parse_notice(*n);
    EXPECT_EQ(field(p.top.headers, "Subject"), "Undelivered Mail Returned to Sender");
    ASSERT_EQ(p.status.size(), 3u);
    EXPECT_EQ(field(p.status[2], "Action"), "delayed");
    EXPECT_EQ(field(p.status[2], "Diagnostic-Code"),
              "X-Postfix; connect to mx.example.net: Connection refused");
    EXPECT_EQ(field(p.status[2], "Remote-MTA"), "<absent>");
    EXPECT_EQ(field(p.status[2], "Last-Attempt-Date"), "<absent>");
}

TEST(Bounce, RetHdrsReturnsHeadersOnly) {
    auto in = base_input();
    in.envelope.ret = "HDRS";
    auto n = compose_notice(in);
    ASSERT_TRUE(n);
    EXPECT_FALSE(n->full_content);
    auto p = parse_notice(*n);
    EXPECT_EQ(field(p.parts[2].headers, "Content-Type"), "text/rfc822-headers");
    EXPECT_EQ(field(p.parts[2].headers, "Content-Description"), "Undelivered Message Headers");
    EXPECT_EQ(p.parts[2].body, kOriginal.substr(0, kOriginal.find("\r\n\r\n") + 2));
    EXPECT_EQ(p.parts[2].body.find("Hi Bob"), std::string::npos);
}

TEST(Bounce, SizeCapReturnsHeadersOnly) {
    EXPECT_TRUE(return_full_content("", true, 100, 100));
    EXPECT_FALSE(return_full_content("", true, 101, 100));
    EXPECT_TRUE(return_full_content("FULL", true, 10, 100));
    EXPECT_FALSE(return_full_content("hdrs", true, 10, 100));
    EXPECT_FALSE(return_full_content("FULL", false, 10, 100));  // delay notices
    auto in = base_input(kOriginal + std::string(2 << 20, 'x') + "\r\n");
    auto n = compose_notice(in);
    ASSERT_TRUE(n);
    EXPECT_FALSE(n->full_content);
    EXPECT_LT(n->message.size(), 10000u);
    auto p = parse_notice(*n);  // also checks the 2 MiB line did not leak into the notice
    EXPECT_EQ(field(p.parts[2].headers, "Content-Type"), "text/rfc822-headers");
}

// The server session decodes ORCPT and ENVID from xtext (smtp/command.cpp), so a client can
// put CR LF into them; the notice must keep them on one line. They are not decoded twice.
TEST(Bounce, OrcptIsNotDecodedTwiceAndCannotInjectFields) {
    auto in = base_input();
    in.envelope.recipients[0].orcpt = "rfc822;bob+x@example.net\r\nAction: delivered";
    in.recipients[0].orcpt = in.envelope.recipients[0].orcpt;
    in.envelope.envid = "id\r\nX-Evil: 1";
    auto n = compose_notice(in);
    ASSERT_TRUE(n);
    auto p = parse_notice(*n);
    ASSERT_EQ(p.status.size(), 2u);
    EXPECT_EQ(field(p.status[1], "Original-Recipient"),
              "rfc822; bob+x@example.net  Action: delivered");
    EXPECT_EQ(p.status[1].count("action"), 1u);
    EXPECT_EQ(field(p.status[1], "Action"), "failed");
    EXPECT_EQ(p.status[0].count("x-evil"), 0u);
}

TEST(Bounce, MultiLineDiagnosticBecomesOneField) {
    auto in = base_input();
    in.recipients[0].diagnostic = "smtp; 550-5.1.1 first\r\n550 5.1.1 second";
    in.recipients[0].status = "bogus";
    in.recipients[0].remote_mta = "mx.example.net";
    auto n = compose_notice(in);
    ASSERT_TRUE(n);
    auto p = parse_notice(*n);
    EXPECT_EQ(field(p.status[1], "Diagnostic-Code"), "smtp; 550-5.1.1 first  550 5.1.1 second");
    EXPECT_EQ(field(p.status[1], "Status"), "5.0.0");
    EXPECT_EQ(field(p.status[1], "Remote-MTA"), "dns; mx.example.net");
}

TEST(Bounce, LongDiagnosticIsFoldedAndUnfoldsBack) {
    auto in = base_input();
    std::string diag = "smtp; 550 5.7.1";
    for (int i = 0; i < 60; ++i) diag += " word" + std::to_string(i);
    in.recipients[0].diagnostic = diag;
    auto n = compose_notice(in);
    ASSERT_TRUE(n);
    auto p = parse_notice(*n);
    EXPECT_EQ(field(p.status[1], "Diagnostic-Code"), diag);
    // Folded at 78 (RFC 5322 §2.1.1 SHOULD): no status line is longer.
    std::string_view s = p.parts[1].body;
    std::size_t start = 0, end;
    while ((end = s.find("\r\n", start)) != std::string_view::npos) {
        EXPECT_LE(end - start, 78u);
        start = end + 2;
    }
}

TEST(Bounce, BoundaryNeverOccursInContent) {
    std::string text = "x 4QXHL50ZKJZ.1795472339000000/relay.example.com y";
    auto b = make_boundary("4QXHL50ZKJZ", kNow, "relay.example.com", {text});
    EXPECT_EQ(text.find(b), std::string::npos);
    EXPECT_NE(b, "4QXHL50ZKJZ.1795472339000000/relay.example.com");
    std::string both = text + " 4QXHL50ZKJZ.1795472339000000/relay.example.com=1";
    auto b2 = make_boundary("4QXHL50ZKJZ", kNow, "relay.example.com", {both});
    EXPECT_EQ(both.find(b2), std::string::npos);
    EXPECT_LE(make_boundary("Q", kNow, std::string(200, 'h'), {}).size(), 70u);

    // Through compose_notice: the body quotes the boundary the first try would use.
    auto in = base_input(kOriginal + "--4QXHL50ZKJZ.1795472339000000/relay.example.com\r\n");
    auto n = compose_notice(in);
    ASSERT_TRUE(n);
    auto p = parse_notice(*n);
    ASSERT_EQ(p.parts.size(), 3u);
    EXPECT_EQ(p.parts[2].body, kOriginal + "--4QXHL50ZKJZ.1795472339000000/relay.example.com\r\n");
}

TEST(Bounce, EightBitContent) {
    std::string original = "Subject: caf\xC3\xA9\r\n\r\nd\xC3\xA9j\xC3\xA0 vu\r\n";
    auto in = base_input("Subject: cafe\r\n\r\nd\xC3\xA9j\xC3\xA0 vu\r\n");
    auto n = compose_notice(in);
    ASSERT_TRUE(n);
    EXPECT_TRUE(n->eightbit);
    EXPECT_FALSE(n->smtputf8);
    auto p = parse_notice(*n);
    EXPECT_EQ(field(p.top.headers, "Content-Transfer-Encoding"), "8bit");
    EXPECT_EQ(field(p.parts[2].headers, "Content-Type"), "message/rfc822");
    EXPECT_EQ(field(p.parts[2].headers, "Content-Transfer-Encoding"), "8bit");
    EXPECT_EQ(field(p.parts[1].headers, "Content-Transfer-Encoding"), "7bit");
    EXPECT_EQ(field(p.parts[0].headers, "Content-Type"), "text/plain; charset=us-ascii");

    // UTF-8 in the returned header section (RFC 6532): message/global.
    auto in2 = base_input(original);
    auto n2 = compose_notice(in2);
    ASSERT_TRUE(n2);
    auto p2 = parse_notice(*n2);
    EXPECT_EQ(field(p2.parts[2].headers, "Content-Type"), "message/global");
    EXPECT_NE(field(p2.top.headers, "Content-Type").find("report-type=global-delivery-status"),
              std::string::npos);
}

TEST(Bounce, Smtputf8Addresses) {
    auto in = base_input();
    in.envelope.sender = "j\xC3\xBCrgen@example.org";
    in.envelope.smtputf8 = true;
    in.envelope.recipients[0].address = "\xE7\x94\xA8\xE6\x88\xB7@example.net";
    in.envelope.recipients[0].orcpt = "";
    in.recipients[0].address = in.envelope.recipients[0].address;
    in.recipients[0].orcpt = "";
    in.envelope.ret = "HDRS";
    auto n = compose_notice(in);
    ASSERT_TRUE(n);
    EXPECT_TRUE(n->smtputf8);
    EXPECT_TRUE(n->eightbit);
    auto p = parse_notice(*n);
    EXPECT_EQ(field(p.top.headers, "To"), "<j\xC3\xBCrgen@example.org>");
    EXPECT_NE(field(p.top.headers, "Content-Type").find("report-type=global-delivery-status"),
              std::string::npos);
    EXPECT_EQ(field(p.parts[0].headers, "Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(field(p.parts[1].headers, "Content-Type"), "message/global-delivery-status");
    EXPECT_EQ(field(p.parts[1].headers, "Content-Transfer-Encoding"), "8bit");
    EXPECT_EQ(field(p.status[0], "X-Postfix-Sender"), "utf-8; j\xC3\xBCrgen@example.org");
    EXPECT_EQ(field(p.status[1], "Final-Recipient"), "utf-8; \xE7\x94\xA8\xE6\x88\xB7@example.net");
    EXPECT_EQ(field(p.parts[2].headers, "Content-Type"), "message/global-headers");
}

TEST(Bounce, EmptyAndHeaderlessContent) {
    for (std::string content :
         {std::string(""), std::string("\r\n"), std::string("\r\nbody only\r\n")}) {
        auto n = compose_notice(base_input(content));
        ASSERT_TRUE(n) << content;
        auto p = parse_notice(*n);
        ASSERT_EQ(p.parts.size(), 3u);
        EXPECT_EQ(p.parts[2].body, content) << content;
    }
    // Headers and no body, no separator: returned as they are.
    auto n = compose_notice(base_input("Subject: x\r\nTo: y"));
    ASSERT_TRUE(n);
    EXPECT_EQ(parse_notice(*n).parts[2].body, "Subject: x\r\nTo: y\r\n");
    // The first line is not a header field: an empty header section is made explicit.
    n = compose_notice(base_input("just text\r\nmore: text\r\n"));
    ASSERT_TRUE(n);
    EXPECT_EQ(parse_notice(*n).parts[2].body, "\r\njust text\r\nmore: text\r\n");
}

TEST(Bounce, LoneLfAndCrBecomeCrlf) {
    auto n = compose_notice(base_input("Subject: a\n\nline1\nline2\rline3"));
    ASSERT_TRUE(n);
    auto p = parse_notice(*n);
    EXPECT_EQ(p.parts[2].body, "Subject: a\r\n\r\nline1\r\nline2\r\nline3\r\n");
}

TEST(Bounce, VeryLongHeaderLinesAreFolded) {
    std::string words;
    for (int i = 0; i < 300; ++i) words += " w" + std::to_string(i);
    std::string nospace(3000, 'a');
    auto n =
        compose_notice(base_input("X-Words:" + words + "\r\nX-Blob: " + nospace + "\r\n\r\nb\r\n"));
    ASSERT_TRUE(n);
    auto p = parse_notice(*n);  // no line over 998
    auto returned = parse_entity(p.parts[2].body);
    EXPECT_EQ(field(returned.headers, "X-Words"), words.substr(1));
    std::string blob = field(returned.headers, "X-Blob");
    blob.erase(std::remove(blob.begin(), blob.end(), ' '), blob.end());
    EXPECT_EQ(blob, nospace);  // only spaces were inserted
    EXPECT_EQ(returned.body, "b\r\n");
}

TEST(Bounce, LongBodyLineFallsBackToHeaders) {
    auto n = compose_notice(base_input("Subject: a\r\n\r\n" + std::string(1200, 'b') + "\r\n"));
    ASSERT_TRUE(n);
    EXPECT_FALSE(n->full_content);
    auto p = parse_notice(*n);
    EXPECT_EQ(field(p.parts[2].headers, "Content-Type"), "text/rfc822-headers");
    EXPECT_EQ(p.parts[2].body, "Subject: a\r\n");
    EXPECT_NE(p.parts[0].body.find("too long"), std::string::npos);
}

TEST(Bounce, NulBytes) {
    auto n = compose_notice(base_input("Subject: a\0b\r\n\r\nx\0y\r\n"s));
    ASSERT_TRUE(n);
    EXPECT_FALSE(n->full_content);
    EXPECT_EQ(n->message.find('\0'), std::string::npos);
    EXPECT_EQ(parse_notice(*n).parts[2].body, "Subject: a b\r\n");
}

TEST(Bounce, Helpers) {
    EXPECT_EQ(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
    EXPECT_EQ(rfc5322_date(kNow), "Mon, 23 Nov 2026 22:18:59 +0000");
    EXPECT_EQ(normalize_crlf("a\nb\r\nc\rd"), "a\r\nb\r\nc\r\nd\r\n");
    EXPECT_EQ(normalize_crlf(""), "");
    auto s = split_message("A: 1\r\n B\r\nC: 2\r\n\r\nbody\r\n");
    EXPECT_EQ(s.headers, "A: 1\r\n B\r\nC: 2\r\n");
    EXPECT_EQ(s.body, "body\r\n");
    EXPECT_TRUE(s.separator);
    s = split_message(" leading space\r\n");
    EXPECT_EQ(s.headers, "");
    EXPECT_FALSE(s.separator);
    EXPECT_EQ(fold_field("Short: x"), "Short: x\r\n");
    EXPECT_EQ(fold_field("Name: aaaa bbbb ccccc", 20), "Name: aaaa bbbb\r\n ccccc\r\n");
    EXPECT_EQ(fold_field("Name: x   "), "Name: x\r\n");
}

TEST(Bounce, StatusCodesAreChecked) {
    const std::pair<const char*, const char*> cases[] = {
        {"5.1.1", "5.1.1"},   {"4.7.5", "4.7.5"},  {"5.123.456", "5.123.456"}, {"5.1", "5.0.0"},
        {"5.1.1.1", "5.0.0"}, {"6.1.1", "5.0.0"},  {"5.1234.1", "5.0.0"},      {"5..1", "5.0.0"},
        {"", "5.0.0"},        {"5.1.1 ", "5.0.0"}, {"550", "5.0.0"},
    };
    for (auto [given, reported] : cases) {
        auto in = base_input();
        in.recipients[0].status = given;
        auto n = compose_notice(in);
        ASSERT_TRUE(n);
        EXPECT_EQ(field(parse_notice(*n).status[1], "Status"), reported) << given;
    }
}

TEST(Bounce, RecipientNotInEnvelopeUsesDefaultNotify) {
    auto in = base_input();
    in.recipients[0].address = "dave@example.net";  // e.g. the envelope was rewritten
    in.recipients[0].orcpt = "";
    auto n = compose_notice(in);
    ASSERT_TRUE(n);
    EXPECT_EQ(field(parse_notice(*n).status[1], "Final-Recipient"), "rfc822; dave@example.net");
}

// Python's email package (an independent parser) finds no defect in any variant.
TEST(Bounce, PythonEmailParserAgrees) {
    std::vector<NoticeInput> inputs;
    inputs.push_back(base_input());
    auto hdrs = base_input();
    hdrs.envelope.ret = "HDRS";
    inputs.push_back(hdrs);
    auto delay = base_input();
    delay.recipients[0].action = DsnAction::delayed;
    delay.retry_until_us = kNow + 1000000;
    inputs.push_back(delay);
    auto utf8 = base_input();
    utf8.recipients[0].address = "j\xC3\xBCrgen@example.net";
    inputs.push_back(utf8);
    std::vector<std::string> contents = {"", "no header\n",
                                         "Subject: x\n\n" + std::string(1500, 'y'),
                                         "Subject: caf\xC3\xA9\r\n\r\n\xC3\xA9\r\n"};
    std::vector<std::string> messages;
    for (const auto& in : inputs) messages.push_back(compose_notice(in)->message);
    for (const auto& c : contents) {
        auto in = base_input(c);
        messages.push_back(compose_notice(in)->message);
    }
    char dir_template[] = "/tmp/bounce_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    std::string dir = dir_template, files;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        std::string path = dir + "/n" + std::to_string(i) + ".eml";
        std::ofstream(path, std::ios::binary) << messages[i];
        files += " " + path;
    }
    int rc = std::system(("/usr/bin/python3 " DSN_CHECK_PY + files).c_str());
    std::filesystem::remove_all(dir);
    EXPECT_EQ(rc, 0);
}

// Random content and field values (CR, LF, NUL, 8-bit, long runs, field-like text): every notice
// is well formed, has its three parts, and returns the header section it was given.
TEST(Bounce, RandomInputsGiveWellFormedNotices) {
    std::mt19937 rng(12345);
    const std::string alphabet = "ab :\r\n\t\0\xC3\xA9-+0D"s;
    auto random_text = [&](std::size_t max_len) {
        std::string t;
        std::size_t len = rng() % max_len;
        for (std::size_t i = 0; i < len; ++i) {
            if (rng() % 50 == 0) t += std::string(rng() % 1200, 'z');
            t += alphabet[rng() % alphabet.size()];
        }
        return t;
    };
    for (int i = 0; i < 300; ++i) {
        auto in = base_input("Subject: s\r\n" + random_text(3000));
        in.recipients[0].diagnostic = random_text(400);
        in.recipients[0].remote_mta = random_text(30);
        in.recipients[0].orcpt = in.envelope.recipients[0].orcpt = "rfc822;" + random_text(60);
        in.envelope.envid = random_text(60);
        in.envelope.ret = i % 3 == 0 ? "HDRS" : "";
        auto n = compose_notice(in);
        ASSERT_TRUE(n);
        auto p = parse_notice(*n);
        ASSERT_EQ(p.parts.size(), 3u) << i;
        ASSERT_EQ(p.status.size(), 2u) << i;
        EXPECT_EQ(p.status[1].count("action"), 1u) << i;
        EXPECT_EQ(field(p.status[1], "Status"), "5.1.1") << i;
        EXPECT_EQ(p.parts[2].body.rfind("Subject: s\r\n", 0), 0u) << i;
        if (HasFailure()) break;
    }
}

}  // namespace
}  // namespace dr::relay
