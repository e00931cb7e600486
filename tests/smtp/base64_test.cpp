// Base64 for AUTH: round trips and malformed input.
#include <gtest/gtest.h>

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
