// Addresses, CIDR networks, the matcher the relay uses for allowed_clients,
// and listen/forwarder endpoints.
#include "conf/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

using namespace dr::conf;

namespace {
template <class F>
std::string error_of(F f) {
    try {
        f();
    } catch (const ValueError& e) {
        return e.what();
    }
    return "";
}

IpAddress ip(std::string_view text) {
    auto a = parse_ip(text);
    EXPECT_TRUE(a.has_value()) << text;
    return a.value_or(IpAddress{});
}

bool in(std::string_view net, std::string_view addr) {
    return matches(parse_cidr(net), ip(addr));
}
}  // namespace

TEST(IpAddress, ParsesBothFamiliesStrictly) {
    EXPECT_EQ(ip("192.0.2.1").family, IpAddress::Family::v4);
    EXPECT_EQ(ip("192.0.2.1").to_string(), "192.0.2.1");
    EXPECT_EQ(ip("2001:DB8:0::1").family, IpAddress::Family::v6);
    EXPECT_EQ(ip("2001:DB8:0::1").to_string(), "2001:db8::1");
    for (auto bad : {"", "1.2.3", "01.2.3.4", "256.1.1.1", "1.2.3.4 ", "fe80::1%eth0", "[::1]",
                     "1::2::3", "localhost"})
        EXPECT_FALSE(parse_ip(bad).has_value()) << bad;
    EXPECT_FALSE(parse_ip(std::string(100, '1')).has_value());
}

TEST(IpAddress, FromBytesAndSockaddr) {
    EXPECT_EQ(IpAddress::v4({127, 0, 0, 1}), ip("127.0.0.1"));
    std::array<std::uint8_t, 16> loop6{};
    loop6[15] = 1;
    EXPECT_EQ(IpAddress::v6(loop6), ip("::1"));

    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    inet_pton(AF_INET, "198.51.100.7", &sin.sin_addr);
    EXPECT_EQ(IpAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&sin)), ip("198.51.100.7"));
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8::7", &sin6.sin6_addr);
    EXPECT_EQ(IpAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&sin6)), ip("2001:db8::7"));
    sockaddr unix_sa{};
    unix_sa.sa_family = AF_UNIX;
    EXPECT_FALSE(IpAddress::from_sockaddr(&unix_sa).has_value());
    EXPECT_FALSE(IpAddress::from_sockaddr(nullptr).has_value());
}

TEST(Cidr, ParsesNetworksAndBareHosts) {
    EXPECT_EQ(parse_cidr("127.0.0.0/8").to_string(), "127.0.0.0/8");
    EXPECT_EQ(parse_cidr("::1/128").to_string(), "::1/128");
    EXPECT_EQ(parse_cidr("192.0.2.7").to_string(), "192.0.2.7/32");
    EXPECT_EQ(parse_cidr("2001:db8::7").to_string(), "2001:db8::7/128");
    EXPECT_EQ(parse_cidr("0.0.0.0/0").prefix, 0u);
    EXPECT_EQ(parse_cidr("::/0").prefix, 0u);
    EXPECT_EQ(parse_cidr("2001:db8::/32").to_string(), "2001:db8::/32");
    EXPECT_EQ(parse_cidr("10.0.0.0/08").prefix, 8u);
}

TEST(Cidr, RefusesHostBitsAndBadPrefixes) {
    EXPECT_EQ(error_of([] { parse_cidr("10.1.2.3/8"); }),
              "bad network \"10.1.2.3/8\": host bits set, did you mean \"10.0.0.0/8\"?");
    EXPECT_EQ(error_of([] { parse_cidr("2001:db8::1/64"); }),
              "bad network \"2001:db8::1/64\": host bits set, did you mean \"2001:db8::/64\"?");
    EXPECT_EQ(error_of([] { parse_cidr("192.0.2.128/25"); }), "");
    EXPECT_EQ(error_of([] { parse_cidr("192.0.2.129/24"); }),
              "bad network \"192.0.2.129/24\": host bits set, did you mean \"192.0.2.0/24\"?");
    EXPECT_EQ(error_of([] { parse_cidr("10.0.0.0/33"); }),
              "bad network \"10.0.0.0/33\": prefix length must be 0..32");
    EXPECT_EQ(error_of([] { parse_cidr("::/129"); }),
              "bad network \"::/129\": prefix length must be 0..128");
    for (auto bad : {"10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8 ", "10.0.0.0/0008"})
        EXPECT_EQ(error_of([&] { parse_cidr(bad); }),
                  "bad network \"" + std::string(bad) + "\": prefix length must be 0..32");
    EXPECT_EQ(error_of([] { parse_cidr("localhost/8"); }),
              "bad network \"localhost/8\": \"localhost\" is not an IPv4 or IPv6 address");
    EXPECT_EQ(error_of([] { parse_cidr("10.0.0/8"); }),
              "bad network \"10.0.0/8\": \"10.0.0\" is not an IPv4 or IPv6 address");
    EXPECT_EQ(error_of([] { parse_cidr("[::1]/128"); }),
              "bad network \"[::1]/128\": \"[::1]\" is not an IPv4 or IPv6 address");
}

TEST(CidrMatch, PrefixBoundaries) {
    EXPECT_TRUE(in("127.0.0.0/8", "127.0.0.1"));
    EXPECT_TRUE(in("127.0.0.0/8", "127.255.255.255"));
    EXPECT_FALSE(in("127.0.0.0/8", "128.0.0.1"));
    EXPECT_FALSE(in("127.0.0.0/8", "126.255.255.255"));
    EXPECT_TRUE(in("192.0.2.128/25", "192.0.2.200"));
    EXPECT_FALSE(in("192.0.2.128/25", "192.0.2.127"));
    EXPECT_TRUE(in("192.0.2.7", "192.0.2.7"));
    EXPECT_FALSE(in("192.0.2.7", "192.0.2.6"));
    EXPECT_TRUE(in("0.0.0.0/0", "203.0.113.9"));
    EXPECT_TRUE(in("::1/128", "::1"));
    EXPECT_FALSE(in("::1/128", "::2"));
    EXPECT_TRUE(in("2001:db8::/32", "2001:db8:ffff::1"));
    EXPECT_FALSE(in("2001:db8::/32", "2001:db9::1"));
    EXPECT_TRUE(in("2001:db8::/33", "2001:db8:7fff::1"));
    EXPECT_FALSE(in("2001:db8::/33", "2001:db8:8000::1"));
    EXPECT_TRUE(in("::/0", "2001:db8::1"));
}

TEST(CidrMatch, FamiliesAndMappedAddresses) {
    // A dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d; they must match
    // the IPv4 entries, or the default loopback-only list locks them out.
    EXPECT_TRUE(in("127.0.0.0/8", "::ffff:127.0.0.1"));
    EXPECT_FALSE(in("127.0.0.0/8", "::ffff:10.0.0.1"));
    EXPECT_FALSE(in("0.0.0.0/0", "2001:db8::1"));
    EXPECT_FALSE(in("::/0", "192.0.2.1"));
    // The other way round is not done: ::ffff:0:0/96 entries see only IPv6 peers.
    EXPECT_FALSE(in("::ffff:0:0/96", "127.0.0.1"));
    // 127.0.0.1 embedded in other IPv6 forms (compatible, NAT64) is not IPv4.
    EXPECT_FALSE(in("127.0.0.0/8", "::127.0.0.1"));
    EXPECT_FALSE(in("127.0.0.0/8", "64:ff9b::127.0.0.1"));
}

TEST(CidrMatch, AnyOfAList) {
    std::vector<Cidr> nets{parse_cidr("127.0.0.0/8"), parse_cidr("::1/128")};
    EXPECT_TRUE(matches_any(nets, ip("127.0.0.2")));
    EXPECT_TRUE(matches_any(nets, ip("::1")));
    EXPECT_FALSE(matches_any(nets, ip("192.0.2.1")));
    EXPECT_FALSE(matches_any({}, ip("127.0.0.1")));
}

TEST(Endpoint, ListenForms) {
    EXPECT_EQ(parse_endpoint("127.0.0.1:10025").to_string(), "127.0.0.1:10025");
    EXPECT_EQ(parse_endpoint("[::1]:10025").to_string(), "[::1]:10025");
    EXPECT_EQ(parse_endpoint("[::]:25").to_string(), "[::]:25");
    EXPECT_EQ(parse_endpoint("0.0.0.0:65535").port, 65535);
    EXPECT_EQ(error_of([] { parse_endpoint("127.0.0.1"); }),
              "bad address \"127.0.0.1\": port required, as in \"127.0.0.1:25\"");
    EXPECT_EQ(error_of([] { parse_endpoint("[::1]"); }),
              "bad address \"[::1]\": port required, as in \"[::1]:25\"");
    EXPECT_EQ(error_of([] { parse_endpoint("::1:10025"); }),
              "bad address \"::1:10025\": write an IPv6 address with a port as \"[addr]:port\"");
    EXPECT_EQ(error_of([] { parse_endpoint("[127.0.0.1]:25"); }),
              "bad address \"[127.0.0.1]:25\": only IPv6 addresses go in brackets");
    EXPECT_EQ(error_of([] { parse_endpoint("localhost:25"); }),
              "bad address \"localhost:25\": \"localhost\" is not an IPv4 or IPv6 address");
    EXPECT_EQ(error_of([] { parse_endpoint("[::1:25"); }),
              "bad address \"[::1:25\": missing \"]\"");
    EXPECT_EQ(error_of([] { parse_endpoint("[::1]25"); }),
              "bad address \"[::1]25\": junk after \"]\"");
    EXPECT_EQ(error_of([] { parse_endpoint("127.0.0.1:0"); }), "bad port \"0\": must be 1..65535");
    EXPECT_EQ(error_of([] { parse_endpoint("127.0.0.1:"); }), "bad port \"\": must be 1..65535");
    EXPECT_EQ(error_of([] { parse_endpoint("[::1]:"); }), "bad port \"\": must be 1..65535");
    EXPECT_EQ(error_of([] { parse_endpoint("127.0.0.1:99999"); }),
              "bad port \"99999\": must be 1..65535");
    EXPECT_EQ(error_of([] { parse_endpoint("127.0.0.1:000025"); }),
              "bad port \"000025\": must be 1..65535");
}

TEST(Endpoint, ForwarderFormsWithDefaultPort) {
    EXPECT_EQ(parse_endpoint("192.0.2.53", 53).to_string(), "192.0.2.53:53");
    EXPECT_EQ(parse_endpoint("2001:db8::53", 53).to_string(), "[2001:db8::53]:53");
    EXPECT_EQ(parse_endpoint("[2001:db8::53]", 53).to_string(), "[2001:db8::53]:53");
    EXPECT_EQ(parse_endpoint("[2001:db8::53]:5353", 53).to_string(), "[2001:db8::53]:5353");
    EXPECT_EQ(parse_endpoint("127.0.0.1:5353", 53).to_string(), "127.0.0.1:5353");
}
