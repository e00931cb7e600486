// Reply and EHLO parsers: well-formed replies from real servers and malformed input.
#include <gtest/gtest.h>

#include "smtp/ehlo.hpp"
#include "smtp/reply.hpp"

using namespace dr::smtp;

TEST(Reply, SingleLineWithEnhancedCode) {
    auto r = parse_reply("250 2.0.0 Ok: queued as 3fn8BY31tPzTT\r\n");
    ASSERT_TRUE(r.reply) << to_string(*r.error);
    EXPECT_EQ(r.reply->code, 250);
    EXPECT_EQ(r.reply->enhanced, "2.0.0");
    ASSERT_EQ(r.reply->lines.size(), 1u);
    EXPECT_EQ(r.reply->lines[0], "Ok: queued as 3fn8BY31tPzTT");
    EXPECT_EQ(r.reply->text(), "250 2.0.0 Ok: queued as 3fn8BY31tPzTT");
    EXPECT_EQ(r.reply->status(), "2.0.0");
    EXPECT_TRUE(r.reply->positive());
}

TEST(Reply, MultiLineStripsEnhancedCodeFromEveryLine) {
    auto r = parse_reply("550-5.7.1 first line\r\n550-5.7.1 second\r\n550 5.7.1 last\r\n");
    ASSERT_TRUE(r.reply);
    EXPECT_EQ(r.reply->code, 550);
    EXPECT_EQ(r.reply->enhanced, "5.7.1");
    EXPECT_EQ(r.reply->lines, (std::vector<std::string>{"first line", "second", "last"}));
    EXPECT_EQ(r.reply->text(), "550 5.7.1 first line second last");
    EXPECT_TRUE(r.reply->permanent());
}

TEST(Reply, NoEnhancedCodeGivesClassStatus) {
    auto r = parse_reply("451 try later\r\n");
    ASSERT_TRUE(r.reply);
    EXPECT_EQ(r.reply->enhanced, "");
    EXPECT_EQ(r.reply->status(), "4.0.0");
    EXPECT_TRUE(r.reply->transient());
}

TEST(Reply, EnhancedCodeOfOtherClassIsText) {
    auto r = parse_reply("250 5.1.1 odd\r\n");
    ASSERT_TRUE(r.reply);
    EXPECT_EQ(r.reply->enhanced, "");
    EXPECT_EQ(r.reply->lines[0], "5.1.1 odd");
}

TEST(Reply, CodeAloneAndBareLf) {
    auto r = parse_reply("220\n");
    ASSERT_TRUE(r.reply);
    EXPECT_EQ(r.reply->code, 220);
    ASSERT_EQ(r.reply->lines.size(), 1u);
    EXPECT_EQ(r.reply->lines[0], "");
}

TEST(Reply, EnhancedCodeShapes) {
    EXPECT_EQ(enhanced_code_length("2.0.0 ok"), 5u);
    EXPECT_EQ(enhanced_code_length("5.123.456"), 9u);
    EXPECT_EQ(enhanced_code_length("5.1234.1 x"), 0u);
    EXPECT_EQ(enhanced_code_length("3.0.0"), 0u);
    EXPECT_EQ(enhanced_code_length("5.1.1x"), 0u);
    EXPECT_EQ(enhanced_code_length("5..1"), 0u);
    EXPECT_EQ(enhanced_code_length("5.1."), 0u);
    EXPECT_EQ(enhanced_code_length(""), 0u);
}

struct Malformed {
    const char* input;
    ReplyError error;
};

class MalformedReply : public ::testing::TestWithParam<Malformed> {};

TEST_P(MalformedReply, IsRejected) {
    auto r = parse_reply(GetParam().input);
    EXPECT_FALSE(r.reply);
    ASSERT_TRUE(r.error);
    EXPECT_EQ(*r.error, GetParam().error) << to_string(*r.error);
}

INSTANTIATE_TEST_SUITE_P(
    Parser, MalformedReply,
    ::testing::Values(Malformed{"", ReplyError::truncated},
                      Malformed{"25\r\n", ReplyError::bad_code},
                      Malformed{"abc hello\r\n", ReplyError::bad_code},
                      Malformed{"150 preliminary\r\n", ReplyError::bad_code},
                      Malformed{"650 out of range\r\n", ReplyError::bad_code},
                      Malformed{"250x ok\r\n", ReplyError::bad_separator},
                      Malformed{"250-first\r\n", ReplyError::truncated},
                      Malformed{"250-first\r\n251 second\r\n", ReplyError::code_mismatch},
                      Malformed{"250-first\r\nhello\r\n", ReplyError::bad_code},
                      Malformed{"250 ok\r\n250 again\r\n", ReplyError::trailing_garbage}));

TEST(Reply, LimitsAreEnforced) {
    std::string long_line = "250 " + std::string(5000, 'x') + "\r\n";
    EXPECT_EQ(parse_reply(long_line).error, ReplyError::too_long);
    std::string many;
    for (int i = 0; i < 300; ++i) many += "250-x\r\n";
    many += "250 end\r\n";
    EXPECT_EQ(parse_reply(many).error, ReplyError::too_many_lines);
}

// SPEC §12: the lines of one reply together are capped too, and the count starts again
// for the next reply.
TEST(Reply, TotalSizeIsCapped) {
    const ReplyLimits limits{100, 1000, 1000};
    std::string big;
    for (int i = 0; i < 20; ++i) big += "250-" + std::string(60, 'x') + "\r\n";
    big += "250 end\r\n";
    EXPECT_EQ(parse_reply(big, limits).error, ReplyError::too_large);
    EXPECT_EQ(to_string(ReplyError::too_large), "reply too large");
    ReplyParser p(limits);
    for (int r = 0; r < 3; ++r) {  // 3 replies of 640 octets: each within the cap
        for (int i = 0; i < 9; ++i) EXPECT_FALSE(p.feed("250-" + std::string(60, 'x')));
        EXPECT_FALSE(p.feed("250 " + std::string(60, 'x')));
        ASSERT_TRUE(p.done());
        p.take();
    }
}

TEST(Reply, ParserIsReusableAfterTake) {
    ReplyParser p;
    EXPECT_FALSE(p.feed("250-a"));
    EXPECT_FALSE(p.done());
    EXPECT_FALSE(p.feed("250 b"));
    ASSERT_TRUE(p.done());
    EXPECT_EQ(p.take().lines.size(), 2u);
    EXPECT_FALSE(p.feed("354 go ahead"));
    ASSERT_TRUE(p.done());
    EXPECT_EQ(p.take().code, 354);
}

TEST(Ehlo, PostfixCapabilities) {
    auto r = parse_reply(
        "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
        "250-ETRN\r\n250-STARTTLS\r\n250-AUTH PLAIN login\r\n250-AUTH=LOGIN CRAM-MD5\r\n"
        "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
        "250 CHUNKING\r\n");
    ASSERT_TRUE(r.reply);
    auto c = parse_ehlo(*r.reply);
    EXPECT_EQ(c.greeting, "mx.example.org");
    EXPECT_TRUE(c.pipelining);
    EXPECT_TRUE(c.size);
    EXPECT_EQ(c.size_limit, 10240000u);
    EXPECT_TRUE(c.starttls);
    EXPECT_TRUE(c.enhanced_status_codes);
    EXPECT_TRUE(c.eightbitmime);
    EXPECT_TRUE(c.dsn);
    EXPECT_TRUE(c.smtputf8);
    EXPECT_TRUE(c.chunking);
    EXPECT_FALSE(c.binarymime);
    EXPECT_EQ(c.auth, (std::vector<std::string>{"PLAIN", "LOGIN", "CRAM-MD5"}));
}

TEST(Ehlo, CaseInsensitiveAndMinimal) {
    auto r = parse_reply("250-host says hi\r\n250-starttls\r\n250-requiretls\r\n250 size\r\n");
    ASSERT_TRUE(r.reply);
    auto c = parse_ehlo(*r.reply);
    EXPECT_TRUE(c.starttls);
    EXPECT_TRUE(c.requiretls);  // RFC 8689
    EXPECT_TRUE(c.size);
    EXPECT_EQ(c.size_limit, 0u);
    EXPECT_FALSE(c.pipelining);
}

TEST(Ehlo, MalformedKeywordsAreIgnored) {
    auto r = parse_reply(
        "250-host\r\n250-\r\n250- \r\n250--PIPELINING\r\n250-SIZE abc\r\n"
        "250-SIZE 99999999999999999999999\r\n250-ST@RTTLS\r\n250 X-EXT a b\r\n");
    ASSERT_TRUE(r.reply);
    auto c = parse_ehlo(*r.reply);
    EXPECT_FALSE(c.pipelining);
    EXPECT_FALSE(c.starttls);
    EXPECT_TRUE(c.size);
    EXPECT_EQ(c.size_limit, 0u);
    EXPECT_EQ(c.keywords.back(), "X-EXT A B");
}

TEST(Ehlo, SingleLineReplyHasNoExtensions) {
    auto r = parse_reply("250 host\r\n");
    ASSERT_TRUE(r.reply);
    auto c = parse_ehlo(*r.reply);
    EXPECT_EQ(c.greeting, "host");
    EXPECT_TRUE(c.keywords.empty());
}
