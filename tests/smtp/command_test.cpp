// Command and address parsers (server side): valid commands, ESMTP parameters and malformed input.
#include <gtest/gtest.h>

#include "smtp/address.hpp"
#include "smtp/command.hpp"

using namespace dr::smtp;

static Command ok(std::string_view line) {
    auto r = parse_command(line);
    EXPECT_TRUE(r.command) << line << " -> " << r.error.reply();
    return r.command.value_or(Command{});
}

static std::string err(std::string_view line) {
    auto r = parse_command(line);
    EXPECT_FALSE(r.command) << line;
    return r.error.reply();
}

TEST(Command, VerbsAreCaseInsensitive) {
    EXPECT_EQ(ok("ehlo client.example").verb, Verb::ehlo);
    EXPECT_EQ(ok("EHLO client.example").argument, "client.example");
    EXPECT_EQ(ok("Helo x").verb, Verb::helo);
    EXPECT_EQ(ok("data").verb, Verb::data);
    EXPECT_EQ(ok("QUIT").verb, Verb::quit);
    EXPECT_EQ(ok("noop anything").verb, Verb::noop);
    EXPECT_EQ(ok("VRFY user").argument, "user");
    EXPECT_EQ(ok("StartTLS").verb, Verb::starttls);
    EXPECT_EQ(ok("AUTH PLAIN AGZvbwBiYXI=").argument, "PLAIN AGZvbwBiYXI=");
}

TEST(Command, MailWithEveryParameter) {
    auto c =
        ok("MAIL FROM:<a.b@example.org> SIZE=12345 BODY=8bitmime SMTPUTF8 RET=hdrs "
           "ENVID=QQ+2B1 AUTH=<>");
    EXPECT_EQ(c.verb, Verb::mail);
    EXPECT_EQ(c.path.address, "a.b@example.org");
    EXPECT_EQ(c.path.local, "a.b");
    EXPECT_EQ(c.path.domain, "example.org");
    EXPECT_EQ(c.mail.size, 12345u);
    EXPECT_EQ(c.mail.body, BodyType::eight_bit_mime);
    EXPECT_TRUE(c.mail.smtputf8);
    EXPECT_EQ(c.mail.ret, "HDRS");
    EXPECT_EQ(c.mail.envid, "QQ+1");
    EXPECT_EQ(c.mail.auth, "<>");
}

TEST(Command, MailRequireTls) {
    EXPECT_TRUE(ok("MAIL FROM:<a@example.org> REQUIRETLS").mail.requiretls);
    EXPECT_TRUE(ok("MAIL FROM:<a@example.org> requiretls SIZE=1").mail.requiretls);
    EXPECT_FALSE(ok("MAIL FROM:<a@example.org>").mail.requiretls);
    EXPECT_EQ(err("MAIL FROM:<a@example.org> REQUIRETLS=yes"),
              "501 5.5.4 Bad REQUIRETLS parameter syntax");  // RFC 8689 §3: no value
}

TEST(Command, NullSenderSpaceAfterColonAndSourceRoute) {
    EXPECT_EQ(ok("MAIL FROM:<>").path.address, "");
    EXPECT_EQ(ok("mail from: <x@example.org>").path.address, "x@example.org");
    auto c = ok("RCPT TO:<@relay1.example,@relay2.example:user@example.org>");
    EXPECT_EQ(c.path.address, "user@example.org");
}

TEST(Command, RcptWithDsnParameters) {
    auto c = ok("RCPT TO:<u@example.org> NOTIFY=success,delay ORCPT=rfc822;u+2Bx@example.org");
    EXPECT_EQ(c.verb, Verb::rcpt);
    EXPECT_EQ(c.rcpt.notify, "SUCCESS,DELAY");
    EXPECT_EQ(c.rcpt.orcpt, "rfc822;u+x@example.org");
    EXPECT_EQ(ok("RCPT TO:<u@example.org> NOTIFY=NEVER").rcpt.notify, "NEVER");
    EXPECT_EQ(ok("RCPT TO:<Postmaster>").path.address, "Postmaster");
}

TEST(Command, QuotedLocalPartsAndAddressLiterals) {
    EXPECT_EQ(ok("RCPT TO:<\"john doe\"@example.org>").path.local, "\"john doe\"");
    EXPECT_EQ(ok("RCPT TO:<\"a>b\\\"c\"@example.org>").path.local, "\"a>b\\\"c\"");
    EXPECT_EQ(ok("RCPT TO:<u@[192.0.2.1]>").path.domain, "[192.0.2.1]");
    EXPECT_EQ(ok("RCPT TO:<u@[IPv6:2001:db8::1]>").path.domain, "[IPv6:2001:db8::1]");
    EXPECT_EQ(ok("RCPT TO:<u@[IPv6:::ffff:192.0.2.1]>").path.domain, "[IPv6:::ffff:192.0.2.1]");
}

TEST(Command, Utf8AddressesNeedSmtputf8) {
    EXPECT_EQ(err("MAIL FROM:<j\xc3\xb6rg@example.org>"),
              "553 5.6.7 Must declare SMTPUTF8 to send unicode address");
    auto c =
        ok("MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc"
           "cher.example> SMTPUTF8");
    EXPECT_TRUE(c.path.utf8);
    // The RCPT check needs the transaction state: the parser only reports it.
    EXPECT_TRUE(ok("RCPT TO:<\xc3\xa9@example.org>").path.utf8);
    EXPECT_EQ(err("MAIL FROM:<j\xc3@example.org> SMTPUTF8"), "501 5.1.7 Bad sender address syntax");
    EXPECT_EQ(err("MAIL FROM:<\xed\xa0\x80@example.org> SMTPUTF8"),
              "501 5.1.7 Bad sender address syntax");
}

struct Bad {
    const char* line;
    const char* reply;
};
class MalformedCommand : public ::testing::TestWithParam<Bad> {};

TEST_P(MalformedCommand, GetsTheRightReply) {
    EXPECT_EQ(err(GetParam().line), GetParam().reply);
}

INSTANTIATE_TEST_SUITE_P(
    Parser, MalformedCommand,
    ::testing::Values(
        Bad{"", "502 5.5.2 Error: command not recognized"},
        Bad{"FOO bar", "502 5.5.2 Error: command not recognized"},
        Bad{"MAILFROM:<a@b.c>", "502 5.5.2 Error: command not recognized"},
        Bad{"EHLO", "501 5.5.4 Syntax: EHLO hostname"}, Bad{"DATA now", "501 5.5.4 Syntax: DATA"},
        Bad{"QUIT\rRSET", "550 5.5.2 Error: bare <CR> received"},
        Bad{"MAIL TO:<a@b.c>", "501 5.5.4 Syntax: MAIL FROM:<address>"},
        Bad{"MAIL FROM:a@b.c", "501 5.1.7 Bad sender address syntax"},
        Bad{"MAIL FROM:<a@b.c", "501 5.1.7 Bad sender address syntax"},
        Bad{"MAIL FROM:<a@@b.c>", "501 5.1.7 Bad sender address syntax"},
        Bad{"MAIL FROM:<a..b@c.d>", "501 5.1.7 Bad sender address syntax"},
        Bad{"MAIL FROM:<.a@c.d>", "501 5.1.7 Bad sender address syntax"},
        Bad{"MAIL FROM:<a@-c.d>", "501 5.1.7 Bad sender address syntax"},
        Bad{"MAIL FROM:<a@c..d>", "501 5.1.7 Bad sender address syntax"},
        Bad{"MAIL FROM:<a b@c.d>", "501 5.1.7 Bad sender address syntax"},
        Bad{"MAIL FROM:<@x:a@c.d", "501 5.1.7 Bad sender address syntax"},
        Bad{"MAIL FROM:<@x a@c.d>", "501 5.1.7 Bad sender address syntax"},
        Bad{"RCPT TO:<>", "501 5.1.3 Bad recipient address syntax"},
        Bad{"RCPT TO:<postmaster@>", "501 5.1.3 Bad recipient address syntax"},
        Bad{"RCPT TO:<u@[300.0.0.1]>", "501 5.1.3 Bad recipient address syntax"},
        Bad{"RCPT TO:<u@[IPv6:1:2:3]>", "501 5.1.3 Bad recipient address syntax"},
        Bad{"RCPT TO:<u@[IPv6:1::2::3]>", "501 5.1.3 Bad recipient address syntax"},
        Bad{"RCPT TO:<u@[tag:foo]>", "501 5.1.3 Bad recipient address syntax"},
        Bad{"RCPT TO:<\"unterminated@example.org>", "501 5.1.3 Bad recipient address syntax"},
        Bad{"MAIL FROM:<a@b.c> SIZE=abc", "501 5.5.4 Bad SIZE parameter syntax"},
        Bad{"MAIL FROM:<a@b.c> SIZE=99999999999999999999", "501 5.5.4 Bad SIZE parameter syntax"},
        Bad{"MAIL FROM:<a@b.c> SIZE", "501 5.5.4 Bad SIZE parameter syntax"},
        Bad{"MAIL FROM:<a@b.c> SIZE=1 SIZE=2", "501 5.5.4 Duplicate SIZE parameter"},
        Bad{"MAIL FROM:<a@b.c> BODY=BINARYMIME",
            "501 5.5.4 Unsupported BODY parameter: BINARYMIME"},
        Bad{"MAIL FROM:<a@b.c> RET=ALL", "501 5.5.4 Bad RET parameter syntax"},
        Bad{"MAIL FROM:<a@b.c> ENVID=a+zz", "501 5.5.4 Bad ENVID parameter syntax"},
        Bad{"MAIL FROM:<a@b.c> SMTPUTF8=yes", "501 5.5.4 Bad SMTPUTF8 parameter syntax"},
        Bad{"MAIL FROM:<a@b.c> NOTIFY=NEVER", "555 5.5.4 Unsupported option: NOTIFY"},
        Bad{"MAIL FROM:<a@b.c> X-FOO=1", "555 5.5.4 Unsupported option: X-FOO"},
        Bad{"MAIL FROM:<a@b.c> =1", "501 5.5.4 Syntax error in parameters"},
        Bad{"MAIL FROM:<a@b.c>SIZE=1", "501 5.5.4 Syntax error in parameters"},
        Bad{"RCPT TO:<a@b.c> NOTIFY=NEVER,SUCCESS", "501 5.5.4 Bad NOTIFY parameter syntax"},
        Bad{"RCPT TO:<a@b.c> NOTIFY=SUCCESS,SUCCESS", "501 5.5.4 Bad NOTIFY parameter syntax"},
        Bad{"RCPT TO:<a@b.c> NOTIFY=", "501 5.5.4 Syntax error in parameters"},
        Bad{"RCPT TO:<a@b.c> ORCPT=rfc822", "501 5.5.4 Bad ORCPT parameter syntax"},
        Bad{"RCPT TO:<a@b.c> ORCPT=;a@b.c", "501 5.5.4 Bad ORCPT parameter syntax"},
        Bad{"RCPT TO:<a@b.c> SIZE=1", "555 5.5.4 Unsupported option: SIZE"}));

TEST(Command, NulIsRefused) {
    EXPECT_EQ(err(std::string_view("NOOP \0x", 7)), "500 5.5.2 Error: NUL character received");
}

TEST(Address, LengthLimits) {
    std::string local(65, 'a');
    EXPECT_EQ(err("RCPT TO:<" + local + "@example.org>"), "501 5.1.3 Address too long");
    std::string domain;
    for (int i = 0; i < 50; ++i) domain += "abcd.";
    domain += "org";
    EXPECT_EQ(err("RCPT TO:<a@" + domain + ">"), "501 5.1.3 Address too long");
    EXPECT_EQ(ok("RCPT TO:<" + std::string(64, 'a') + "@example.org>").path.local.size(), 64u);
}

TEST(Address, XtextDecode) {
    EXPECT_EQ(xtext_decode("a+2Bb+3D"), "a+b=");
    EXPECT_EQ(xtext_decode(""), "");
    EXPECT_FALSE(xtext_decode("a+2"));
    EXPECT_FALSE(xtext_decode("a+"));
    EXPECT_FALSE(xtext_decode("a=b"));
    EXPECT_FALSE(xtext_decode("a b"));
    EXPECT_FALSE(xtext_decode("+G0"));
}

TEST(Address, Utf8Validation) {
    EXPECT_TRUE(valid_utf8("plain"));
    EXPECT_TRUE(valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
    EXPECT_FALSE(valid_utf8("\xc3"));
    EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong
    EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
    EXPECT_FALSE(valid_utf8("\x80"));
}
