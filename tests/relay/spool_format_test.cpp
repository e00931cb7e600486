// Queue file records without I/O: framing, CRC, escaping, envelope and status round trips, and
// rejection of torn or altered bytes.
#include <gtest/gtest.h>

#include "relay/spool/format.hpp"
#include "spool_test_util.hpp"

namespace dr::relay {
namespace {

TEST(SpoolFormat, Crc32KnownValue) {
    // The CRC-32 check value from the CRC catalogue (IEEE 802.3 polynomial).
    EXPECT_EQ(crc32("123456789"), 0xCBF43926U);
    EXPECT_EQ(crc32("6789", crc32("12345")), 0xCBF43926U);
}

TEST(SpoolFormat, RecordFraming) {
    auto rec = encode_record(RecordType::status, "hello");
    ASSERT_EQ(rec.size(), kRecordHeaderSize + 5 + kRecordTrailerSize);
    EXPECT_EQ(rec.substr(0, kRecordHeaderSize), "S 0000000000000005 3610a686\n");
    auto h = parse_record_header(rec);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->type, RecordType::status);
    EXPECT_EQ(h->length, 5u);
    EXPECT_TRUE(record_payload_ok(*h, std::string_view(rec).substr(kRecordHeaderSize)));
}

TEST(SpoolFormat, RejectsDamage) {
    auto rec = encode_record(RecordType::status, "hello");
    auto h = parse_record_header(rec);
    ASSERT_TRUE(h);
    std::string payload = rec.substr(kRecordHeaderSize);
    payload[1] = 'E';
    EXPECT_FALSE(record_payload_ok(*h, payload));              // bit flip
    EXPECT_FALSE(record_payload_ok(*h, "hello"));              // trailer missing (torn)
    EXPECT_FALSE(parse_record_header(rec.substr(0, 27)));      // torn header
    EXPECT_FALSE(parse_record_header(std::string(28, '\0')));  // zero-filled tail
    std::string bad = rec;
    bad[0] = 'X';
    EXPECT_FALSE(parse_record_header(bad));
    EXPECT_FALSE(parse_record_header("S ffffffffffffffff 00000000\n"));  // absurd length
    bad = rec;
    bad[5] = 'A';  // upper-case hex is not what we write
    EXPECT_FALSE(parse_record_header(bad));
}

TEST(SpoolFormat, EscapingRoundTrip) {
    std::string nasty = "a\tb\nc\\d\re";
    auto esc = escape_field(nasty);
    EXPECT_EQ(esc.find('\t'), std::string::npos);
    EXPECT_EQ(esc.find('\n'), std::string::npos);
    EXPECT_EQ(unescape_field(esc), nasty);
    EXPECT_FALSE(unescape_field("trailing\\"));
    EXPECT_FALSE(unescape_field("bad\\x"));
}

TEST(SpoolFormat, EnvelopeRoundTrip) {
    auto env = testing::sample_envelope(3);
    env.arrival_us = 1'763'925'601'123'456LL;
    env.sender = "tab\there@example.org";
    env.auth_user = "alice";
    env.recipients[1].address = "üser@exämple.net";  // SMTPUTF8 address, raw UTF-8
    EXPECT_EQ(decode_envelope(encode_envelope(env)), env);
    QueuedEnvelope null_sender;
    EXPECT_EQ(decode_envelope(encode_envelope(null_sender)), null_sender);
}

TEST(SpoolFormat, EnvelopeRejectsUnknownKeys) {
    EXPECT_FALSE(decode_envelope("sender\ta@b\nfrobnicate\t1\n"));
    EXPECT_FALSE(decode_envelope("sender\ta@b\nrequiretls\tyes\n"));    // only "1"
    EXPECT_FALSE(decode_envelope("sender\ta@b\ntls-required\tyes\n"));  // only "no"
    EXPECT_TRUE(decode_envelope("sender\ta@b\nrequiretls\t1\ntls-required\tno\n"));
    EXPECT_FALSE(decode_envelope("rcpt\tonly-two\tfields\n"));
    EXPECT_FALSE(decode_envelope("sender\ta@b"));  // no final newline
}

TEST(SpoolFormat, StatusRoundTrip) {
    std::vector<StatusUpdate> ups{{0, testing::deferred(2, "TLSA lookup error for mx:25")},
                                  {3, testing::delivered(1)}};
    auto back = decode_status(encode_status(ups));
    ASSERT_TRUE(back);
    ASSERT_EQ(back->size(), 2u);
    EXPECT_EQ((*back)[0].rcpt, 0u);
    EXPECT_EQ((*back)[0].state, ups[0].state);
    EXPECT_EQ((*back)[1].rcpt, 3u);
    EXPECT_EQ((*back)[1].state, ups[1].state);
    EXPECT_FALSE(decode_status("0\tgone\t1\t0\t\t\n"));
    EXPECT_FALSE(decode_status("x\tpending\t1\t0\t\t\n"));
}

}  // namespace
}  // namespace dr::relay
