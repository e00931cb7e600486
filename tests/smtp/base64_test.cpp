// Base64 and SASL PLAIN for AUTH: round trips and malformed input.
#include <gtest/gtest.h>

#include "smtp/auth.hpp"
#include "smtp/base64.hpp"

using namespace dr::smtp;

TEST(Base64, RoundTrip) {
    for (std::string s : {std::string(), std::string("a"), std::string("ab"), std::string("abc"),
                          std::string("abcd"), std::string("\0user\0secret", 12)})
        EXPECT_EQ(base64_decode(base64_encode(s)), s);
    EXPECT_EQ(base64_encode(std::string("\0user\0secret", 12)), "AHVzZXIAc2VjcmV0");
}

TEST(Base64, Malformed) {
    EXPECT_FALSE(base64_decode("abc"));
    EXPECT_FALSE(base64_decode("ab=c"));
    EXPECT_FALSE(base64_decode("a==="));
    EXPECT_FALSE(base64_decode("ab==abcd"));
    EXPECT_FALSE(base64_decode("ab c"));
    EXPECT_FALSE(base64_decode("*"));
    EXPECT_FALSE(base64_decode("RRC="));  // non-zero bits under the padding
    EXPECT_FALSE(base64_decode("QR=="));
}

TEST(AuthPlain, Credentials) {
    auto c = parse_auth_plain(std::string("\0user\0secret", 12));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->user, "user");
    EXPECT_EQ(c->password, "secret");
    EXPECT_TRUE(parse_auth_plain(std::string("user\0user\0pw", 12)));
    EXPECT_FALSE(parse_auth_plain(std::string("other\0user\0pw", 13)));  // acting for another
    EXPECT_FALSE(parse_auth_plain(std::string("\0\0pw", 4)));            // no user
    EXPECT_FALSE(parse_auth_plain("user"));
    EXPECT_FALSE(parse_auth_plain(std::string("\0user", 5)));
    EXPECT_FALSE(parse_auth_plain(std::string("\0u\0p\0q", 6)));
}

TEST(AuthPlain, Prompts) {
    EXPECT_EQ(auth_prompts("plain")->size(), 1u);
    EXPECT_EQ(auth_prompts("LOGIN")->size(), 2u);
    EXPECT_FALSE(auth_prompts("CRAM-MD5"));
}
