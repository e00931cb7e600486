// Dot-stuffing, SIZE counting and xtext for the client side of DATA.
#include <gtest/gtest.h>

#include "smtp/dot_stuff.hpp"

using namespace dr::smtp;

static std::string stuff(std::initializer_list<std::string_view> chunks) {
    DotStuffer s;
    std::string out;
    for (auto c : chunks) s.feed(c, out);
    s.finish(out);
    return out;
}

TEST(DotStuff, LeadingDotsAreDoubled) {
    EXPECT_EQ(stuff({"a\r\n.b\r\n.\r\n..c\r\n"}), "a\r\n..b\r\n..\r\n...c\r\n.\r\n");
}

TEST(DotStuff, BareLfBecomesCrlfAndLastLineIsEnded) {
    EXPECT_EQ(stuff({"a\n.b\nc"}), "a\r\n..b\r\nc\r\n.\r\n");
    EXPECT_EQ(stuff({""}), ".\r\n");
    EXPECT_EQ(stuff({"x\r"}), "x\r\n.\r\n");
}

TEST(DotStuff, ChunkBoundariesDoNotMatter) {
    std::string whole = "line\r\n.dot\r\n\r\n.\r\nend";
    std::string expected = stuff({whole});
    for (std::size_t cut = 0; cut <= whole.size(); ++cut) {
        std::string_view w = whole;
        EXPECT_EQ(stuff({w.substr(0, cut), w.substr(cut)}), expected) << "cut at " << cut;
    }
}

TEST(DotStuff, CrlfSize) {
    EXPECT_EQ(crlf_size("a\r\nb\r\n"), 6u);
    EXPECT_EQ(crlf_size("a\nb\n"), 6u);
    EXPECT_EQ(crlf_size("a\nb"), 6u);
    EXPECT_EQ(crlf_size(""), 0u);
}

TEST(Xtext, EncodesPlusEqualsAndNonPrintables) {
    EXPECT_EQ(xtext_encode("user@example.org"), "user@example.org");
    EXPECT_EQ(xtext_encode("a+b=c d\xc3\xa9"), "a+2Bb+3Dc+20d+C3+A9");
}
