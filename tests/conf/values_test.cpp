// The pure value parsers: every accepted form and every refusal's message.
#include "conf/values.hpp"

#include <gtest/gtest.h>

using namespace dr::conf;
using std::chrono::seconds;

namespace {
// The ValueError message of f(), or "" when it did not throw.
template <class F>
std::string error_of(F f) {
    try {
        f();
    } catch (const ValueError& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST(Duration, AcceptsEveryUnit) {
    EXPECT_EQ(parse_duration("30s"), seconds(30));
    EXPECT_EQ(parse_duration("5m"), seconds(300));
    EXPECT_EQ(parse_duration("1h"), seconds(3600));
    EXPECT_EQ(parse_duration("5d"), seconds(5 * 86400));
    EXPECT_EQ(parse_duration("2w"), seconds(14 * 86400));
    EXPECT_EQ(parse_duration("0s"), seconds(0));
    EXPECT_EQ(parse_duration("2147483647s"), seconds(2147483647));
}

TEST(Duration, RefusesBadForms) {
    EXPECT_EQ(error_of([] { parse_duration("30"); }),
              "bad duration \"30\": unit missing (s, m, h, d or w)");
    EXPECT_EQ(error_of([] { parse_duration("5x"); }),
              "bad duration \"5x\": unknown unit \"x\" (s, m, h, d or w)");
    EXPECT_EQ(error_of([] { parse_duration("5 m"); }),
              "bad duration \"5 m\": unknown unit \" m\" (s, m, h, d or w)");
    EXPECT_EQ(error_of([] { parse_duration("5M"); }),
              "bad duration \"5M\": unknown unit \"M\" (s, m, h, d or w)");
    EXPECT_EQ(error_of([] { parse_duration("1h30m"); }),
              "bad duration \"1h30m\": unknown unit \"h30m\" (s, m, h, d or w)");
    for (auto text : {"", "m", "-5m", "+5m", " 5m"})
        EXPECT_EQ(error_of([&] { parse_duration(text); }),
                  "bad duration \"" + std::string(text) +
                      "\": expected a number and a unit, as in \"30s\", \"5m\", \"1h\", \"5d\"");
    EXPECT_EQ(error_of([] { parse_duration("2147483648s"); }),
              "bad duration \"2147483648s\": too long (at most 68 years)");
    EXPECT_EQ(error_of([] { parse_duration("99999999999999999999999d"); }),
              "bad duration \"99999999999999999999999d\": too long (at most 68 years)");
}

TEST(Size, AcceptsBytesAndBinaryUnits) {
    EXPECT_EQ(parse_size("1"), 1u);
    EXPECT_EQ(parse_size("1048576"), 1048576u);
    EXPECT_EQ(parse_size("10k"), 10240u);
    EXPECT_EQ(parse_size("10K"), 10240u);
    EXPECT_EQ(parse_size("50M"), 50u * 1024 * 1024);
    EXPECT_EQ(parse_size("50m"), 50u * 1024 * 1024);
    EXPECT_EQ(parse_size("1G"), 1024u * 1024 * 1024);
    EXPECT_EQ(parse_size("8388608G"), std::uint64_t{1} << 53);
}

TEST(Size, RefusesBadForms) {
    EXPECT_EQ(error_of([] { parse_size("50MB"); }),
              "bad size \"50MB\": unknown unit \"MB\" (k, M or G)");
    EXPECT_EQ(error_of([] { parse_size("1T"); }),
              "bad size \"1T\": unknown unit \"T\" (k, M or G)");
    EXPECT_EQ(error_of([] { parse_size("M"); }),
              "bad size \"M\": expected bytes or a number with k, M or G, as in \"50M\"");
    EXPECT_EQ(error_of([] { parse_size("-1"); }),
              "bad size \"-1\": expected bytes or a number with k, M or G, as in \"50M\"");
    EXPECT_EQ(error_of([] { parse_size("8388609G"); }), "bad size \"8388609G\": too large");
    EXPECT_EQ(error_of([] { parse_size("1.5M"); }),
              "bad size \"1.5M\": unknown unit \".5M\" (k, M or G)");
}

TEST(Domain, CanonicalisesCaseAndTrailingDot) {
    EXPECT_EQ(parse_domain("Example.ORG."), "example.org");
    EXPECT_EQ(parse_domain("xn--bcher-kva.example"), "xn--bcher-kva.example");
    EXPECT_EQ(parse_domain("localhost"), "localhost");
    EXPECT_EQ(parse_domain("a-b.3com.example"), "a-b.3com.example");
    EXPECT_EQ(parse_domain(std::string(63, 'a') + ".example"), std::string(63, 'a') + ".example");
}

TEST(Domain, RefusesWhatIsNoHostName) {
    EXPECT_EQ(error_of([] { parse_domain(""); }), "bad domain \"\": empty");
    EXPECT_EQ(error_of([] { parse_domain("."); }), "bad domain \".\": empty");
    EXPECT_EQ(error_of([] { parse_domain("a..example"); }),
              "bad domain \"a..example\": empty label");
    EXPECT_EQ(error_of([] { parse_domain(".example"); }), "bad domain \".example\": empty label");
    EXPECT_EQ(error_of([] { parse_domain("example.org.."); }),
              "bad domain \"example.org..\": empty label");
    EXPECT_EQ(
        error_of([] { parse_domain("under_score.example"); }),
        "bad domain \"under_score.example\": \"_\" not allowed (letters, digits and hyphens only)");
    EXPECT_EQ(error_of([] { parse_domain("*.example"); }),
              "bad domain \"*.example\": \"*\" not allowed (letters, digits and hyphens only)");
    EXPECT_EQ(error_of([] { parse_domain("-a.example"); }),
              "bad domain \"-a.example\": label \"-a\" starts or ends with a hyphen");
    EXPECT_EQ(error_of([] { parse_domain("a-.example"); }),
              "bad domain \"a-.example\": label \"a-\" starts or ends with a hyphen");
    EXPECT_EQ(error_of([] { parse_domain("192.0.2.1"); }),
              "bad domain \"192.0.2.1\": an address, not a domain name");
    EXPECT_EQ(error_of([] {
                  parse_domain(
                      "b\xc3\xbc"
                      "cher.example");
              }),
              "bad domain \"b\xc3\xbc"
              "cher.example\": not ASCII; write internationalised names as "
              "A-labels (xn--...)");
    auto long_label = std::string(64, 'a') + ".example";
    EXPECT_EQ(error_of([&] { parse_domain(long_label); }),
              "bad domain \"" + long_label + "\": label longer than 63 octets");
    std::string long_name;
    while (long_name.size() < 254) long_name += "abcdefghi.";
    long_name += "example";
    EXPECT_EQ(error_of([&] { parse_domain(long_name); }),
              "bad domain \"" + long_name + "\": longer than 253 octets");
}

TEST(Nexthop, PostfixForms) {
    auto h = parse_nexthop("[mx.Partner.example]:2525");
    EXPECT_EQ(h.host, "mx.partner.example");
    EXPECT_EQ(h.port, 2525);
    EXPECT_FALSE(h.mx_lookup);
    EXPECT_FALSE(h.address.has_value());
    EXPECT_EQ(h.to_string(), "[mx.partner.example]:2525");

    h = parse_nexthop("[mx.partner.example]");
    EXPECT_EQ(h.port, 25);
    EXPECT_FALSE(h.mx_lookup);
    EXPECT_EQ(h.to_string(), "[mx.partner.example]");

    h = parse_nexthop("partner.example:587");
    EXPECT_EQ(h.host, "partner.example");
    EXPECT_EQ(h.port, 587);
    EXPECT_TRUE(h.mx_lookup);
    EXPECT_EQ(h.to_string(), "partner.example:587");

    h = parse_nexthop("Partner.example.");
    EXPECT_EQ(h.host, "partner.example");
    EXPECT_EQ(h.port, 25);
    EXPECT_TRUE(h.mx_lookup);
}

TEST(Nexthop, AddressLiteralsOnlyInBrackets) {
    auto h = parse_nexthop("[192.0.2.25]");
    ASSERT_TRUE(h.address.has_value());
    EXPECT_EQ(h.address->to_string(), "192.0.2.25");
    EXPECT_FALSE(h.mx_lookup);

    h = parse_nexthop("[2001:DB8::25]:2525");
    ASSERT_TRUE(h.address.has_value());
    EXPECT_EQ(h.host, "2001:db8::25");
    EXPECT_EQ(h.port, 2525);
    EXPECT_EQ(h.to_string(), "[2001:db8::25]:2525");

    h = parse_nexthop("[IPv6:2001:db8::25]");
    ASSERT_TRUE(h.address.has_value());
    EXPECT_EQ(h.host, "2001:db8::25");

    EXPECT_EQ(error_of([] { parse_nexthop("192.0.2.25:25"); }),
              "bad next hop \"192.0.2.25:25\": an address needs brackets, as in \"[192.0.2.25]\" "
              "(there is no MX lookup for an address)");
    EXPECT_EQ(error_of([] { parse_nexthop("2001:db8::25"); }),
              "bad next hop \"2001:db8::25\": write an IPv6 address in brackets, as in "
              "\"[2001:db8::1]:25\"");
}

TEST(Nexthop, RefusesBadForms) {
    EXPECT_EQ(error_of([] { parse_nexthop("[mx.example"); }),
              "bad next hop \"[mx.example\": missing \"]\"");
    EXPECT_EQ(error_of([] { parse_nexthop("[mx.example]2525"); }),
              "bad next hop \"[mx.example]2525\": junk after \"]\"");
    EXPECT_EQ(error_of([] { parse_nexthop("[mx.example]:"); }), "bad port \"\": must be 1..65535");
    EXPECT_EQ(error_of([] { parse_nexthop("mx.example:0"); }), "bad port \"0\": must be 1..65535");
    EXPECT_EQ(error_of([] { parse_nexthop("mx.example:65536"); }),
              "bad port \"65536\": must be 1..65535");
    EXPECT_EQ(error_of([] { parse_nexthop("mx.example:smtp"); }),
              "bad port \"smtp\": must be 1..65535");
    EXPECT_EQ(error_of([] { parse_nexthop(""); }), "bad domain \"\": empty");
    EXPECT_EQ(error_of([] { parse_nexthop("[]"); }), "bad domain \"\": empty");
    EXPECT_EQ(error_of([] { parse_nexthop("mx_1.example"); }),
              "bad domain \"mx_1.example\": \"_\" not allowed (letters, digits and hyphens only)");
}

TEST(LogTarget, ThreeForms) {
    EXPECT_EQ(parse_log_target("syslog").kind, LogTarget::Kind::syslog);
    EXPECT_EQ(parse_log_target("stderr").kind, LogTarget::Kind::standard_error);
    auto f = parse_log_target("file:/var/log/dane-relay.log");
    EXPECT_EQ(f.kind, LogTarget::Kind::file);
    EXPECT_EQ(f.path, "/var/log/dane-relay.log");
    EXPECT_EQ(f.to_string(), "file:/var/log/dane-relay.log");
    EXPECT_EQ(parse_log_target("stderr").to_string(), "stderr");
    EXPECT_EQ(error_of([] { parse_log_target("file:maillog"); }),
              "bad path \"maillog\": must be absolute (start with \"/\")");
    EXPECT_EQ(error_of([] { parse_log_target("file:"); }),
              "bad path \"\": must be absolute (start with \"/\")");
    EXPECT_EQ(
        error_of([] { parse_log_target("Syslog"); }),
        "bad log target \"Syslog\": expected \"syslog\", \"stderr\" or \"file:/absolute/path\"");
    EXPECT_EQ(error_of([] { parse_log_target("/var/log/maillog"); }),
              "bad log target \"/var/log/maillog\": expected \"syslog\", \"stderr\" or "
              "\"file:/absolute/path\"");
}

TEST(AbsolutePath, RefusesRelativeAndNul) {
    EXPECT_EQ(parse_absolute_path("/var/spool/x"), "/var/spool/x");
    EXPECT_EQ(error_of([] { parse_absolute_path("spool"); }),
              "bad path \"spool\": must be absolute (start with \"/\")");
    EXPECT_EQ(error_of([] { parse_absolute_path(std::string_view("/a\0b", 4)); }),
              "bad path: contains a NUL byte");
}
