// Postfix's log formats (SPEC §6): the field order and notation are the contract.
#include "relay/log/log.hpp"

#include <unistd.h>

#include <gtest/gtest.h>
#include <fstream>
#include <regex>

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
    char path[] = "/tmp/dr-log-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    conf::LogConfig cfg;
    cfg.target = conf::parse_log_target(std::string("file:") + path);
    {
        auto log = Logger::open(cfg, "relay1");
        log->info(Role::qmgr, "8FBEE80337A: removed");
        log->warning(Role::smtpd, "something odd");
    }
    std::ifstream in(path);
    std::string l1, l2;
    std::getline(in, l1);
    std::getline(in, l2);
    unlink(path);
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
