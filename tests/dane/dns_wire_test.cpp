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
