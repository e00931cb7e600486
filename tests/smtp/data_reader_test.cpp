// DATA stream parser: un-stuffing, the only valid end marker, smuggling attempts and limits.
#include <gtest/gtest.h>

#include "smtp/data_reader.hpp"

using namespace dr::smtp;

namespace {

struct Read {
    std::string message;
    std::size_t consumed = 0;
    bool done = false;
    std::optional<DataError> error;
};

Read read_all(std::string_view in, DataLimits limits = {}) {
    DataReader r(limits);
    Read out;
    out.consumed = r.feed(in, out.message);
    out.done = r.done();
    out.error = r.error();
    return out;
}

}  // namespace

TEST(DataReader, UnstuffsAndStopsAtEndMarker) {
    auto r = read_all("Subject: x\r\n\r\n..dot\r\n...\r\nend\r\n.\r\nQUIT\r\n");
    EXPECT_TRUE(r.done);
    EXPECT_FALSE(r.error);
    EXPECT_EQ(r.message, "Subject: x\r\n\r\n.dot\r\n..\r\nend\r\n");
    EXPECT_EQ(r.consumed,
              std::string_view("Subject: x\r\n\r\n..dot\r\n...\r\nend\r\n.\r\n").size());
}

TEST(DataReader, EmptyMessage) {
    auto r = read_all(".\r\n");
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.message, "");
    EXPECT_EQ(r.consumed, 3u);
}

TEST(DataReader, ByteByByteEqualsWhole) {
    std::string in = "a\r\n.b\r\n\r\nlong line here\r\n.\r\n";
    DataReader r;
    std::string out;
    for (char c : in) r.feed(std::string_view(&c, 1), out);
    EXPECT_TRUE(r.done());
    EXPECT_EQ(out, read_all(in).message);
    EXPECT_EQ(r.size(), out.size());
}

// SMTP smuggling (CVE-2023-51764 class): none of these ends the data, each is an error.
struct Smuggle {
    const char* name;
    std::string_view data;
    DataError error;
};
class Smuggling : public ::testing::TestWithParam<Smuggle> {};

TEST_P(Smuggling, NoFalseEndAndError) {
    std::string in = std::string(GetParam().data) + "MAIL FROM:<evil@example.org>\r\n";
    auto r = read_all(in);
    EXPECT_FALSE(r.done) << GetParam().name;
    EXPECT_EQ(r.consumed, in.size());
    ASSERT_TRUE(r.error);
    EXPECT_EQ(*r.error, GetParam().error) << to_string(*r.error);
    // After the real end marker the reader stops, error kept.
    DataReader reader;
    std::string out;
    std::string whole = in + "\r\n.\r\nNEXT";
    EXPECT_EQ(reader.feed(whole, out), whole.size() - 4);
    EXPECT_TRUE(reader.done());
}

INSTANTIATE_TEST_SUITE_P(Parser, Smuggling,
                         ::testing::Values(Smuggle{"lf.lf", "x\n.\n", DataError::bare_lf},
                                           Smuggle{"lf.crlf", "x\n.\r\n", DataError::bare_lf},
                                           Smuggle{"crlf.lf", "x\r\n.\n", DataError::bare_lf},
                                           Smuggle{"cr.cr", "x\r.\r", DataError::bare_cr},
                                           Smuggle{"crlf.cr", "x\r\n.\rz", DataError::bare_cr},
                                           Smuggle{"nul", std::string_view("x\0y\r\n", 5),
                                                   DataError::nul}));

TEST(DataReader, LineLengthLimit) {
    std::string ok_line(998, 'a');
    auto r = read_all(ok_line + "\r\n.\r\n");
    EXPECT_FALSE(r.error);
    auto bad = read_all(ok_line + "a\r\n.\r\n");
    EXPECT_TRUE(bad.done);
    EXPECT_EQ(bad.error, DataError::line_too_long);
    // A stuffed dot does not count: the line is 998 octets after un-stuffing.
    EXPECT_FALSE(read_all("." + ok_line + "\r\n.\r\n").error);
}

TEST(DataReader, SizeLimitStopsOutputButFindsTheEnd) {
    DataLimits l;
    l.max_size = 10;
    auto r = read_all("0123456789\r\nmore\r\n.\r\n", l);
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.error, DataError::too_big);
    EXPECT_LE(r.message.size(), 12u);
}
