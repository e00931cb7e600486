// The AUTH verifier with real crypt(3) hashes made here (yescrypt, sha512-crypt), unknown
// users, NUL bytes; and the per-address failure delays of AuthThrottle on a fake clock.
#include <gtest/gtest.h>

#include "smtp/auth_throttle.hpp"
#include "smtp/passwords.hpp"
#include "tests/support/crypt_hash.hpp"

using namespace dr::smtp;
using namespace std::chrono_literals;

using dr::test::make_hash;

TEST(Passwords, YescryptAndSha512) {
    std::string y = make_hash("$y$", "correct horse"), six = make_hash("$6$", "battery staple");
    ASSERT_EQ(y.substr(0, 3), "$y$");
    ASSERT_EQ(six.substr(0, 3), "$6$");
    Passwords p({{"alice", y}, {"bob", six}});
    EXPECT_EQ(p.size(), 2u);
    EXPECT_TRUE(p.check("alice", "correct horse"));
    EXPECT_TRUE(p.check("bob", "battery staple"));
    EXPECT_FALSE(p.check("alice", "battery staple"));  // another user's password
    EXPECT_FALSE(p.check("bob", "Battery staple"));
    EXPECT_FALSE(p.check("alice", ""));
    EXPECT_FALSE(p.check("Alice", "correct horse"));  // user names are exact
}

TEST(Passwords, UnknownUsersNeverMatchNotEvenTheStandInsPassword) {
    // The stand-in hash is the first entry's: its password must not open an unknown name.
    Passwords p({{"alice", make_hash("$y$", "pw")}});
    EXPECT_FALSE(p.check("mallory", "pw"));
    EXPECT_FALSE(p.check("", "pw"));
    EXPECT_TRUE(p.check("alice", "pw"));
}

TEST(Passwords, OpensslPasswdHash) {
    // `openssl passwd -6 -salt saltsalt secret`
    const std::string h =
        "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8w"
        "iOQSpT0Y77vwPZN.Pq.H91p5hVO1";
    EXPECT_TRUE(crypt_matches("secret", h));
    EXPECT_FALSE(crypt_matches("secreT", h));
}

TEST(Passwords, NulInPasswordAndBrokenHashesNeverMatch) {
    std::string h = make_hash("$6$", "ab");
    EXPECT_TRUE(crypt_matches("ab", h));
    EXPECT_FALSE(crypt_matches(std::string("ab\0cd", 5), h));  // crypt(3) would see "ab"
    EXPECT_FALSE(crypt_matches("ab", h.substr(0, h.size() - 1)));
    EXPECT_FALSE(crypt_matches("ab", "*"));
    EXPECT_FALSE(crypt_matches("", ""));
}

TEST(AuthThrottle, EachFailureWaitsOneStepLongerUpToTheCap) {
    AuthThrottle t;
    auto now = AuthThrottle::Clock::time_point{} + 1h;
    EXPECT_EQ(t.failed("192.0.2.1", now), 0s);
    EXPECT_EQ(t.failed("192.0.2.1", now), 1s);
    EXPECT_EQ(t.failed("192.0.2.1", now + 1s), 2s);
    EXPECT_EQ(t.failed("192.0.2.2", now), 0s);  // per address
    for (int i = 0; i < 20; ++i) t.failed("192.0.2.1", now + 2s);
    EXPECT_EQ(t.failed("192.0.2.1", now + 3s), 10s);
    // Forgotten after ten quiet minutes.
    EXPECT_EQ(t.failed("192.0.2.1", now + 3s + 10min + 1s), 0s);
}

TEST(AuthThrottle, MemoryIsBounded) {
    AuthThrottle t(AuthThrottle::Policy{1s, 10s, 10min, 3});
    auto now = AuthThrottle::Clock::time_point{} + 1h;
    t.failed("a", now);
    t.failed("b", now + 1s);
    t.failed("c", now + 2s);
    t.failed("d", now + 3s);  // "a" is the stalest and goes
    EXPECT_EQ(t.addresses(), 3u);
    EXPECT_EQ(t.failed("b", now + 4s), 1s);
    EXPECT_EQ(t.failed("a", now + 5s), 0s);  // new again
}
