// Postfix's log formats (SPEC §6): the field order and notation are the contract.
#include "relay/log/log.hpp"

#include <unistd.h>

#include <gtest/gtest.h>
#include <algorithm>
#include <fstream>
#include <functional>
#include <iterator>
#include <regex>
#include <sstream>

namespace dr::relay {
namespace {

TEST(LogFormat, DelayNotationAsPostfix) {
    EXPECT_EQ(format_delay(0), "0");
    EXPECT_EQ(format_delay(0.004), "0");
    EXPECT_EQ(format_delay(0.01), "0.01");
    EXPECT_EQ(format_delay(0.13), "0.13");
    EXPECT_EQ(format_delay(0.4199), "0.41");
    EXPECT_EQ(format_delay(0.1), "0.1");
    EXPECT_EQ(format_delay(1.9), "1.9");
    EXPECT_EQ(format_delay(1.99), "1.9");
    EXPECT_EQ(format_delay(2), "2");
    EXPECT_EQ(format_delay(12.7), "12");
    EXPECT_EQ(format_delay(3600.5), "3600");
}

TEST(LogFormat, DeliveryLineFieldOrder) {
    DeliveryRecord r;
    r.queue_id = "8FBEE80337A";
    r.recipient = "user@example.de";
    r.relay = "mail.example.de[2001:db8:100::25]:25";
    r.delay = 1.9;
    r.delays[0] = 0.02;
    r.delays[1] = 0.01;
    r.delays[2] = 0.13;
    r.delays[3] = 1.8;
    r.dsn = "2.0.0";
    r.status = "sent";
    r.text = "250 2.0.0 Ok: queued as 3fn8BY31tPzTT";
    EXPECT_EQ(format_delivery(r),
              "8FBEE80337A: to=<user@example.de>, relay=mail.example.de[2001:db8:100::25]:25, "
              "delay=1.9, delays=0.02/0.01/0.13/1.8, dsn=2.0.0, status=sent (250 2.0.0 Ok: "
              "queued as 3fn8BY31tPzTT)");
}

TEST(LogFormat, OptionalFields) {
    DeliveryRecord r;
    r.queue_id = "ABCDEF12345";
    r.recipient = "a@x.test";
    r.original_recipient = "alias@x.test";
    r.conn_use = 3;
    r.dsn = "4.7.5";
    r.status = "deferred";
    r.text = "Server certificate not verified";
    EXPECT_EQ(format_delivery(r),
              "ABCDEF12345: to=<a@x.test>, orig_to=<alias@x.test>, relay=none, conn_use=3, "
              "delay=0, delays=0/0/0/0, dsn=4.7.5, status=deferred (Server certificate not "
              "verified)");
    r.original_recipient = r.recipient;  // Postfix omits orig_to when it equals to
    EXPECT_EQ(format_delivery(r).find("orig_to"), std::string::npos);
}

TEST(LogFormat, TlsFeatureFieldBeforeDsn) {
    DeliveryRecord r;
    r.queue_id = "ABCDEF12345";
    r.recipient = "a@x.test";
    r.relay = "mx.x.test[192.0.2.1]:25";
    r.tls = "dane";
    r.dsn = "2.0.0";
    r.status = "sent";
    r.text = "250 ok";
    // Postfix 3.11: "delays=…, tls=dane, dsn=2.0.0, status=sent".
    EXPECT_EQ(format_delivery(r),
              "ABCDEF12345: to=<a@x.test>, relay=mx.x.test[192.0.2.1]:25, delay=0, "
              "delays=0/0/0/0, tls=dane, dsn=2.0.0, status=sent (250 ok)");
}

TEST(Printable, KeepsPrintableAsciiAndUtf8) {
    EXPECT_EQ(printable("to=<a@b.test>, relay=x[1.2.3.4]:25 ~!"),
              "to=<a@b.test>, relay=x[1.2.3.4]:25 ~!");
    EXPECT_EQ(printable("J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x93\xa7"),
              "J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x93\xa7");
    EXPECT_EQ(printable(""), "");
}

TEST(Printable, ReplacesEveryOtherByteWithAQuestionMark) {
    EXPECT_EQ(printable("a\r\nNov 23 19:20:01 h dane-relay/smtp[1]: forged"),
              "a??Nov 23 19:20:01 h dane-relay/smtp[1]: forged");
    EXPECT_EQ(printable(std::string("n\0l\t\x1b[31m\x7f", 10)), "n?l??[31m?");
    EXPECT_EQ(printable("\xc2\x85"), "?");                     // U+0085 NEL, a C1 control: one '?'
    EXPECT_EQ(printable("\xe2\x80\xa8x\xe2\x80\xa9"), "?x?");  // U+2028, U+2029
    EXPECT_EQ(printable("\xc0\xaf"), "??");                    // overlong '/'
    EXPECT_EQ(printable("\xed\xa0\x80"), "???");               // a UTF-16 surrogate
    EXPECT_EQ(printable("\xff\xfe"), "??");
    EXPECT_EQ(printable("\xe2\x82"), "??");            // cut short
    EXPECT_EQ(printable("\xf4\x90\x80\x80"), "????");  // above U+10FFFF
}

TEST(Printable, TruncatesLongRepliesAtACharacterBoundary) {
    EXPECT_EQ(truncate_reply("250 ok"), "250 ok");
    std::string exact(kMaxReplyText, 'x');
    EXPECT_EQ(truncate_reply(exact), exact);
    auto cut = truncate_reply(std::string(5000, 'y'));
    EXPECT_EQ(cut.size(), kMaxReplyText);
    EXPECT_TRUE(cut.ends_with("y..."));
    std::string euros;
    while (euros.size() < 2 * kMaxReplyText) euros += "\xe2\x82\xac";
    cut = truncate_reply(euros);
    EXPECT_LE(cut.size(), kMaxReplyText);
    EXPECT_EQ(printable(cut), cut) << "a UTF-8 character was cut in half";
}

// What `write` logs through a file target, as the file holds it afterwards.
std::string written_by(const std::function<void(Logger&)>& write) {
    char path[] = "/tmp/dr-log-XXXXXX";
    int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    close(fd);
    conf::LogConfig cfg;
    cfg.target = conf::parse_log_target(std::string("file:") + path);
    write(*Logger::open(cfg, "relay1"));
    std::ifstream in(path);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    unlink(path);
    return all;
}

TEST(Logger, EscapesWhatItWrites) {
    const std::string all = written_by([](Logger& log) {
        log.info(Role::smtp,
                 "X: to=<a@b>, orig_to=<x\r\nJan  1 00:00:00 relay1 dane-relay/smtp[1]: Y>");
        log.warning(Role::smtpd, "bad\nline");
    });
    ASSERT_EQ(std::count(all.begin(), all.end(), '\n'), 2) << all;
    EXPECT_NE(all.find("orig_to=<x??Jan  1 00:00:00 relay1 dane-relay/smtp[1]: Y>\n"),
              std::string::npos)
        << all;
    EXPECT_NE(all.find("warning: bad?line\n"), std::string::npos) << all;
}

TEST(LogFormat, LinePrefix) {
    auto line = format_line(std::chrono::system_clock::now(), "relay1", "dane-relay", Role::smtp,
                            4711, "hello");
    EXPECT_TRUE(std::regex_match(
        line,
        std::regex(
            R"([A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d relay1 dane-relay/smtp\[4711\]: hello)")))
        << line;
}

TEST(Logger, FileTargetAppendsWholeLines) {
    std::istringstream in(written_by([](Logger& log) {
        log.info(Role::qmgr, "8FBEE80337A: removed");
        log.warning(Role::smtpd, "something odd");
    }));
    std::string l1, l2;
    std::getline(in, l1);
    std::getline(in, l2);
    EXPECT_NE(l1.find(" relay1 dane-relay/qmgr["), std::string::npos) << l1;
    EXPECT_TRUE(l1.ends_with("]: 8FBEE80337A: removed")) << l1;
    EXPECT_TRUE(l2.ends_with("]: warning: something odd")) << l2;
}

TEST(Logger, UnopenableFileIsAStartupError) {
    conf::LogConfig cfg;
    cfg.target = conf::parse_log_target("file:/nonexistent-dir/x.log");
    EXPECT_THROW(Logger::open(cfg, "h"), LogError);
}

}  // namespace
}  // namespace dr::relay
