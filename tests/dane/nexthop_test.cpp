#include "dane/destination.hpp"

#include <gtest/gtest.h>

namespace dr::dane {
namespace {

TEST(NextHop, PostfixSyntax) {
    auto a = parse_nexthop("[mx.partner.example]:2525");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "mx.partner.example");
    EXPECT_EQ(a->port, 2525);
    EXPECT_TRUE(a->bracketed);
    auto b = parse_nexthop("Partner.Example");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->host, "partner.example");
    EXPECT_EQ(b->port, 25);
    EXPECT_FALSE(b->bracketed);
    auto c = parse_nexthop("[mx.example]");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->port, 25);
}

TEST(NextHop, Malformed) {
    for (const char* bad : {"", "[]", "[mx", "[mx]x", "mx:", "mx:0", "mx:70000", "[mx]:abc", ":25"})
        EXPECT_FALSE(parse_nexthop(bad)) << bad;
}

}  // namespace
}  // namespace dr::dane
