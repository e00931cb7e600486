// The MTA-STS and TLSRPT texts (dane/sts.hpp): what RFC 8461 §3.1, §3.2, §4.1 and
// RFC 8460 §3 allow is read, and everything else is an error, never a partial value.
#include "dane/sts.hpp"

#include <gtest/gtest.h>

#include <string>

namespace dr::dane {
namespace {

const char* kGood =
    "version: STSv1\r\n"
    "mode: enforce\r\n"
    "mx: mail.example.com\r\n"
    "mx: *.Example.NET\r\n"
    "mx: backupmx.example.com\r\n"
    "max_age: 604800\r\n";

TEST(StsRecord, TheRfcExample) {
    auto r = parse_sts_record("v=STSv1; id=20160831085700Z;");
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.value->id, "20160831085700Z");
}

TEST(StsRecord, ExtensionsAndSpacingAreAllowed) {
    auto r = parse_sts_record("v=STSv1 ;\tid=abc ; ext_1.x=some-value");
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.value->id, "abc");
}

TEST(StsRecord, MalformedRecordsAreErrors) {
    for (const char* txt : {
             "v=STSv1;",                                       // no id
             "v=STSv1",                                        // no id
             "v=STSv1; id=",                                   // empty id
             "v=STSv1; id=abc-def",                            // "-" is not in an id
             "v=STSv1; id=123456789012345678901234567890123",  // 33 characters
             "v=STSv1; id=a; id=b",                            // two ids
             "v=STSv1;; id=a",                                 // empty field
             "v=STSv1 id=a",                                   // no delimiter
             "v=STSv2; id=a",                                  // other version
             "V=STSv1; id=a",                                  // %s: case-sensitive
             "v=STSv1; id=a; bad",                             // field without "="
             "v=STSv1; id=a; x=a=b",                           // "=" in an extension value
             "v=STSv1; id=a; _x=1",  // extension name must start alphanumeric
         }) {
        auto r = parse_sts_record(txt);
        EXPECT_FALSE(r) << txt;
        EXPECT_FALSE(r.error.empty()) << txt;
    }
}

TEST(StsRecord, ExactlyOneVersionedRecordCounts) {
    auto one = choose_sts_record({"v=spf1 -all", "v=STSv1; id=x1", "v=STSv10; id=x2"});
    ASSERT_TRUE(one) << one.error;
    EXPECT_EQ(one.value->id, "x1");
    auto none = choose_sts_record({"v=spf1 -all"});
    EXPECT_FALSE(none);
    EXPECT_NE(none.error.find("no \"v=STSv1\" record"), std::string::npos) << none.error;
    auto two = choose_sts_record({"v=STSv1; id=a", "v=STSv1; id=b"});
    EXPECT_FALSE(two);
    EXPECT_NE(two.error.find("2 \"v=STSv1\" records"), std::string::npos) << two.error;
    EXPECT_FALSE(choose_sts_record({"v=STSv1; id=bad!"}));  // one, but malformed
}

TEST(StsPolicy, TheRfcExample) {
    auto p = parse_sts_policy(kGood);
    ASSERT_TRUE(p) << p.error;
    EXPECT_EQ(p.value->mode, StsMode::enforce);
    EXPECT_EQ(p.value->max_age, 604800u);
    EXPECT_EQ(p.value->mx, (std::vector<std::string>{"mail.example.com", "*.example.net",
                                                     "backupmx.example.com"}));
}

TEST(StsPolicy, LfLinesAnyOrderUnknownKeysAndNoFinalNewline) {
    auto p = parse_sts_policy(
        "max_age: 86400\nmx: mx.a.test\nfuture_key: some value\n"
        "mode:testing  \nversion: STSv1");
    ASSERT_TRUE(p) << p.error;
    EXPECT_EQ(p.value->mode, StsMode::testing);
    EXPECT_EQ(p.value->max_age, 86400u);
}

TEST(StsPolicy, ModeNoneNeedsNoMx) {
    auto p = parse_sts_policy("version: STSv1\nmode: none\nmax_age: 0\n");
    ASSERT_TRUE(p) << p.error;
    EXPECT_EQ(p.value->mode, StsMode::none);
    EXPECT_TRUE(p.value->mx.empty());
}

TEST(StsPolicy, MaxAgeOfOneYearIsTheLimit) {
    EXPECT_TRUE(parse_sts_policy("version: STSv1\nmode: none\nmax_age: 31557600\n"));
    auto over = parse_sts_policy("version: STSv1\nmode: none\nmax_age: 31557601\n");
    EXPECT_FALSE(over);
    EXPECT_NE(over.error.find("over one year"), std::string::npos) << over.error;
}

TEST(StsPolicy, MalformedPoliciesAreErrors) {
    const std::string v = "version: STSv1\n", m = "mode: enforce\n", a = "max_age: 86400\n",
                      x = "mx: mx.a.test\n";
    for (const std::string& body : {
             std::string(),                                         // empty
             m + a + x,                                             // no version
             "version: STSv2\n" + m + a + x,                        // other version
             "version: stsv1\n" + m + a + x,                        // case-sensitive
             v + a + x,                                             // no mode
             v + "mode: Enforce\n" + a + x,                         // case-sensitive
             v + "mode: strict\n" + a + x,                          // unknown mode
             v + m + x,                                             // no max_age
             v + m + "max_age: -1\n" + x,                           // not digits
             v + m + "max_age: 12345678901\n" + x,                  // 11 digits
             v + m + "max_age: 1e6\n" + x,                          // not digits
             v + m + "max_age:\n" + x,                              // empty
             v + m + a,                                             // enforce without mx
             v + "mode: testing\n" + a,                             // testing without mx
             v + m + a + "mx: *\n",                                 // a bare wildcard
             v + m + a + "mx: mx.a.test.\n",                        // trailing dot
             v + m + a + "mx: mx..a.test\n",                        // empty label
             v + m + a + "mx: **.a.test\n",                         // wildcard not a whole label
             v + m + a + "mx: mx.*.test\n",                         // wildcard not leftmost
             v + m + a + "mx: 192.0.2.1\n",                         // an address
             v + m + a + "mx:\n",                                   // empty
             v + v + m + a + x,                                     // version twice
             v + m + m + a + x,                                     // mode twice
             v + m + a + a + x,                                     // max_age twice
             v + "\n" + m + a + x,                                  // an empty line
             v + m + a + x + "\n",                                  // an empty last line
             " " + v + m + a + x,                                   // space before a key
             v + m + a + x + "junk\n",                              // no ":"
             v + m + a + x + "bad key: 1\n",                        // key with a space
             v + m + a + x + "ext:\n",                              // extension without value
             v + m + a + "mx: mx.a.test\r\r\n",                     // stray CR
             v + m + a + "mx: mx.a.test\rmx: b.test\n",             // CR alone as line end
             v + m + a + x + std::string("ext: a\0b\n", 9),         // NUL
             v + m + a + x + "ext: caf\xc3\xa9\n",                  // non-ASCII
             v + m + a + x + std::string(kStsMaxPolicyBytes, '#'),  // oversize
         }) {
        auto p = parse_sts_policy(body);
        EXPECT_FALSE(p) << body.substr(0, 200);
        EXPECT_FALSE(p.error.empty()) << body.substr(0, 200);
    }
}

TEST(StsPolicy, ErrorsSayWhereAndWhat) {
    auto p = parse_sts_policy("version: STSv1\nmode: enforce\nmax_age: 1\nmx: mx..a\n");
    EXPECT_NE(p.error.find("mx \"mx..a\""), std::string::npos) << p.error;
    auto l = parse_sts_policy("version: STSv1\nmode: enforce\n\x01\n");
    EXPECT_EQ(l.error, "line 3 has a control or non-ASCII byte");
    auto k = parse_sts_policy("version: STSv1\nmode: enforce\nno colon\n");
    EXPECT_EQ(k.error, "line 3: no \":\" in \"no colon\"");
}

TEST(StsMx, ExactAndWildcardMatchesOfRfc8461Section41) {
    EXPECT_TRUE(sts_mx_matches("mail.example.com", "mail.example.com"));
    EXPECT_TRUE(sts_mx_matches("mail.example.com", "MAIL.Example.com."));
    EXPECT_FALSE(sts_mx_matches("mail.example.com", "mail2.example.com"));
    EXPECT_FALSE(sts_mx_matches("mail.example.com", "x.mail.example.com"));
    EXPECT_TRUE(sts_mx_matches("*.example.com", "mail.example.com"));
    EXPECT_TRUE(sts_mx_matches("*.example.com", "Mx1.EXAMPLE.com."));
    EXPECT_FALSE(sts_mx_matches("*.example.com", "example.com"));      // no label
    EXPECT_FALSE(sts_mx_matches("*.example.com", "a.b.example.com"));  // two labels
    EXPECT_FALSE(sts_mx_matches("*.example.com", "mailexample.com"));  // not a label
    EXPECT_FALSE(sts_mx_matches("*.example.com", ".example.com"));     // empty label
    EXPECT_FALSE(sts_mx_matches("mail.example.com", ""));
}

TEST(StsMx, APolicyAllowsOnlyItsPatterns) {
    auto p = parse_sts_policy(kGood);
    ASSERT_TRUE(p);
    EXPECT_TRUE(sts_policy_allows(*p.value, "mail.example.com"));
    EXPECT_TRUE(sts_policy_allows(*p.value, "mx9.example.net"));
    EXPECT_FALSE(sts_policy_allows(*p.value, "mx.attacker.test"));
    EXPECT_FALSE(sts_policy_allows(StsPolicy{}, "mail.example.com"));
}

TEST(TlsrptRecord, TheRfcExamples) {
    auto r = parse_tlsrpt_record("v=TLSRPTv1; rua=mailto:reports@example.com");
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.value->rua, std::vector<std::string>{"mailto:reports@example.com"});
    auto two = parse_tlsrpt_record(
        "v=TLSRPTv1;rua=https://reporting.example.com/v1/tlsrpt , mailto:tls@example.com;");
    ASSERT_TRUE(two) << two.error;
    EXPECT_EQ(two.value->rua, (std::vector<std::string>{"https://reporting.example.com/v1/tlsrpt",
                                                        "mailto:tls@example.com"}));
}

TEST(TlsrptRecord, OtherSchemesAreSkippedButNotAlone) {
    auto r = parse_tlsrpt_record("v=TLSRPTv1; rua=ftp://x.test/r,mailto:a@x.test");
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.value->rua, std::vector<std::string>{"mailto:a@x.test"});
    auto only = parse_tlsrpt_record("v=TLSRPTv1; rua=ftp://x.test/r");
    EXPECT_EQ(only.error, "no mailto: or https: address in rua");
}

TEST(TlsrptRecord, MalformedRecordsAreErrors) {
    for (const char* txt : {
             "v=TLSRPTv1",                                            // no rua
             "v=TLSRPTv1;",                                           // no rua
             "v=TLSRPTv1; rua=",                                      // empty
             "v=TLSRPTv1; rua=mailto:a@x.test,",                      // empty second address
             "v=TLSRPTv1; rua=not a uri",                             // spaces
             "v=TLSRPTv1; rua=:nothing",                              // no scheme
             "v=TLSRPTv1; rua=mailto:a@x.test; rua=mailto:b@x.test",  // twice
             "v=TLSRPTv2; rua=mailto:a@x.test",                       // version
             "v=TLSRPTv1 rua=mailto:a@x.test",                        // no delimiter
             "v=TLSRPTv1;; rua=mailto:a@x.test",                      // empty field
         }) {
        auto r = parse_tlsrpt_record(txt);
        EXPECT_FALSE(r) << txt;
        EXPECT_FALSE(r.error.empty()) << txt;
    }
}

TEST(TlsrptRecord, ExactlyOneVersionedRecordCounts) {
    EXPECT_TRUE(choose_tlsrpt_record({"v=spf1", "v=TLSRPTv1; rua=mailto:a@x.test"}));
    EXPECT_FALSE(choose_tlsrpt_record(
        {"v=TLSRPTv1; rua=mailto:a@x.test", "v=TLSRPTv1; rua=mailto:b@x.test"}));
    EXPECT_FALSE(choose_tlsrpt_record({}));
}

}  // namespace
}  // namespace dr::dane
