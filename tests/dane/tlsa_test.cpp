#include "dane/tlsa.hpp"

#include <gtest/gtest.h>

namespace dr::dane {
namespace {

TlsaRecord rec(int u, int s, int m, std::size_t n) {
    return TlsaRecord{static_cast<std::uint8_t>(u), static_cast<std::uint8_t>(s),
                      static_cast<std::uint8_t>(m), std::vector<std::uint8_t>(n, 1)};
}

TEST(TlsaUsability, Rfc7672Section3_1_3) {
    EXPECT_TRUE(tlsa_usability(rec(3, 1, 1, 32)).usable);
    EXPECT_TRUE(tlsa_usability(rec(3, 0, 1, 32)).usable);
    EXPECT_TRUE(tlsa_usability(rec(2, 1, 2, 64)).usable);
    EXPECT_FALSE(tlsa_usability(rec(0, 0, 1, 32)).usable);
    EXPECT_FALSE(tlsa_usability(rec(1, 1, 1, 32)).usable);
    EXPECT_FALSE(tlsa_usability(rec(4, 1, 1, 32)).usable);
    EXPECT_FALSE(tlsa_usability(rec(3, 2, 1, 32)).usable);
    EXPECT_FALSE(tlsa_usability(rec(3, 1, 3, 32)).usable);
    EXPECT_FALSE(tlsa_usability(rec(3, 1, 1, 31)).usable);
    EXPECT_FALSE(tlsa_usability(rec(3, 1, 2, 32)).usable);
    EXPECT_FALSE(tlsa_usability(rec(3, 1, 0, 40)).usable) << "garbage is no public key";
    EXPECT_FALSE(tlsa_usability(rec(3, 0, 0, 40)).usable) << "garbage is no certificate";
}

TEST(TlsaUsability, ReasonsAreReadable) {
    EXPECT_EQ(tlsa_usability(rec(1, 1, 1, 32)).why, "usage 1 (PKIX-EE) is not used with SMTP");
    EXPECT_EQ(tlsa_usability(rec(3, 1, 1, 20)).why, "SHA2-256 digest has 20 octets, not 32");
}

}  // namespace
}  // namespace dr::dane
