#include "dane/dns_wire.hpp"

#include <gtest/gtest.h>

namespace dr::dane::wire {
namespace {

std::vector<std::uint8_t> bytes(std::initializer_list<int> v) {
    return std::vector<std::uint8_t>(v.begin(), v.end());
}

TEST(DnsWire, DecodesMx) {
    auto rd = bytes({0, 10, 2, 'm', 'x', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 0});
    auto mx = decode_mx(rd);
    ASSERT_TRUE(mx);
    EXPECT_EQ(mx->preference, 10);
    EXPECT_EQ(mx->host, "mx.example");
}

TEST(DnsWire, NullMxIsRootName) {
    auto mx = decode_mx(bytes({0, 0, 0}));
    ASSERT_TRUE(mx);
    EXPECT_EQ(mx->host, "");
}

TEST(DnsWire, RejectsMalformedNames) {
    EXPECT_FALSE(decode_mx(bytes({})));
    EXPECT_FALSE(decode_mx(bytes({0, 10})));
    EXPECT_FALSE(decode_mx(bytes({0, 10, 5, 'a', 'b', 0})));  // label runs past the end
    EXPECT_FALSE(decode_mx(bytes({0, 10, 0xc0, 0x0c})));      // compression pointer
    EXPECT_FALSE(decode_mx(bytes({0, 10, 1, 'a', 0, 1})));    // trailing garbage
    EXPECT_FALSE(decode_mx(bytes({0, 10, 1, 'a'})));          // no root label
    std::vector<std::uint8_t> long_label = {0, 1, 64};
    long_label.insert(long_label.end(), 64, 'a');
    long_label.push_back(0);
    EXPECT_FALSE(decode_mx(long_label));  // label > 63
    std::vector<std::uint8_t> long_name = {0, 1};
    for (int i = 0; i < 5; ++i) {
        long_name.push_back(63);
        long_name.insert(long_name.end(), 63, 'b');
    }
    long_name.push_back(0);
    EXPECT_FALSE(decode_mx(long_name));  // name > 255 octets
}

TEST(DnsWire, EscapesOddBytes) {
    auto mx = decode_mx(bytes({0, 1, 3, 'a', ' ', 0, 0}));
    ASSERT_TRUE(mx);
    EXPECT_EQ(mx->host, "a\\032\\000");
}

// RFC 1035 §3.3.14: one or more character-strings, joined (RFC 8461 §3.1).
TEST(DnsWire, TxtStringsAreJoined) {
    EXPECT_EQ(decode_txt(bytes({3, 'v', '=', 'S'})), "v=S");
    EXPECT_EQ(decode_txt(bytes({2, 'a', 'b', 0, 1, 'c'})), "abc");  // an empty string too
    EXPECT_EQ(decode_txt(bytes({0})), "");
}

TEST(DnsWire, RejectsMalformedTxt) {
    EXPECT_FALSE(decode_txt(bytes({})));                  // no string at all
    EXPECT_FALSE(decode_txt(bytes({4, 'a', 'b', 'c'})));  // runs past the end
    EXPECT_FALSE(decode_txt(bytes({1, 'a', 2, 'b'})));    // the second one does
}

TEST(DnsWire, Addresses) {
    auto a = decode_a(bytes({192, 0, 2, 1}));
    ASSERT_TRUE(a);
    EXPECT_EQ(a->to_string(), "192.0.2.1");
    EXPECT_FALSE(decode_a(bytes({1, 2, 3})));
    auto v6 = decode_aaaa(bytes({0xfd, 0, 0xda, 0x9e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5}));
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->to_string(), "fd00:da9e::5");
    EXPECT_FALSE(decode_aaaa(bytes({1, 2, 3, 4})));
}

TEST(DnsWire, Tlsa) {
    auto t = decode_tlsa(bytes({3, 1, 1, 0xab, 0xcd}));
    ASSERT_TRUE(t);
    EXPECT_EQ(t->to_string(), "3 1 1 abcd");
    EXPECT_FALSE(decode_tlsa(bytes({3, 1, 1})));  // no association data
    EXPECT_FALSE(decode_tlsa(bytes({})));
}

// An RRSIG RR (RFC 4034 §3.1) at the question's name (pointer to offset 12).
void add_rrsig(std::vector<std::uint8_t>& m, std::uint16_t covered, std::uint32_t expiration) {
    auto be32 = [&](std::uint32_t v) {
        for (int s : {24, 16, 8, 0}) m.push_back(static_cast<std::uint8_t>(v >> s));
    };
    for (int b : {0xC0, 12, 0, 46, 0, 1}) m.push_back(static_cast<std::uint8_t>(b));
    be32(3600);
    for (int b : {0, 21, covered >> 8, covered & 0xff, 13, 4})
        m.push_back(static_cast<std::uint8_t>(b));
    be32(3600);                // original TTL
    be32(expiration);          // signature expiration
    be32(expiration - 86400);  // inception
    for (int b : {0x12, 0x34, 0, 0xaa, 0xbb}) m.push_back(static_cast<std::uint8_t>(b));
}

TEST(DnsWire, RrsigExpirationIsTheSoonestOverTheAnswerType) {
    // Header: 4 answers; question _25._tcp.x.test TLSA IN; one TLSA, three RRSIGs.
    auto m = bytes({0,   1,   0x81, 0xa0, 0, 1,   0, 4,   0,   0,   0,   0, 3, '_', '2', '5', 4,
                    '_', 't', 'c',  'p',  1, 'x', 4, 't', 'e', 's', 't', 0, 0, 52,  0,   1});
    for (int b : {0xC0, 12, 0, 52, 0, 1, 0, 0, 14, 16, 0, 4, 3, 1, 1, 0xab}) m.push_back(b);
    add_rrsig(m, 52, 0x60000000);
    add_rrsig(m, 52, 0x50000000);
    add_rrsig(m, 1, 0x10000000);  // covers A: not ours
    EXPECT_EQ(rrsig_expiration(m, 52), 0x50000000u);
    EXPECT_EQ(rrsig_expiration(m, 1), 0x10000000u);
    EXPECT_FALSE(rrsig_expiration(m, 15));
    // Cut inside the second RRSIG: what was read before the cut.
    std::vector<std::uint8_t> cut(m.begin(), m.end() - 40);
    EXPECT_EQ(rrsig_expiration(cut, 52), 0x60000000u);
    EXPECT_FALSE(rrsig_expiration(bytes({0, 1, 0x81}), 52));
    // A question name cut inside its compression pointer.
    auto loop = bytes({0, 1, 0x81, 0xa0, 0, 1, 0, 1, 0, 0, 0, 0, 0xC0});
    EXPECT_FALSE(rrsig_expiration(loop, 52));
}

}  // namespace
}  // namespace dr::dane::wire

namespace dr::dane {
namespace {

TEST(DomainName, AcceptsHostNames) {
    for (const char* ok :
         {"example.org", "Example.ORG.", "xn--bcher-kva.example", "a", "ee-good.test"})
        EXPECT_FALSE(domain_name_error(ok)) << ok;
}

TEST(DomainName, RefusesBadInput) {
    std::string long_label(64, 'a');
    std::string long_name;
    for (int i = 0; i < 4; ++i) long_name += std::string(63, 'b') + ".";
    for (const std::string& bad :
         {std::string(""), std::string("[192.0.2.1]"), std::string("192.0.2.1"),
          std::string("2001:db8::1"), std::string("a..b"), std::string(".a"), std::string("-a.b"),
          std::string("a-.b"), std::string("a b"), std::string("a_b.c"), std::string("ä.example"),
          long_label + ".x", long_name + "x", std::string("a\\032b")})
        EXPECT_TRUE(domain_name_error(bad)) << bad;
}

}  // namespace
}  // namespace dr::dane
