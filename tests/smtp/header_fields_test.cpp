// What the relay reads from a message's header block (smtp/header_fields.hpp): its
// Message-ID for the log, and RFC 8689's "TLS-Required: No". Malformed and hostile header
// blocks give "absent", never more.
#include <gtest/gtest.h>

#include "smtp/header_fields.hpp"

namespace dr::smtp {
namespace {

TEST(HeaderFields, TlsRequiredNo) {
    EXPECT_TRUE(tls_required_no("Subject: x\r\nTLS-Required: No\r\n\r\nbody\r\n"));
    EXPECT_TRUE(tls_required_no("tls-required:no\r\n\r\n"));
    EXPECT_TRUE(tls_required_no("TLS-Required:\r\n  NO \r\nSubject: y\r\n\r\n"));  // folded
    EXPECT_TRUE(tls_required_no("TLS-Required: No"));  // the 64 KB scan may end anywhere
    EXPECT_FALSE(tls_required_no("TLS-Required: Yes\r\n\r\n"));
    EXPECT_FALSE(tls_required_no("TLS-Required: Nope\r\n\r\n"));
    EXPECT_FALSE(tls_required_no("TLS-Required: No, thanks\r\n\r\n"));
    EXPECT_FALSE(tls_required_no("TLS-Required:\r\n\r\n"));
    EXPECT_FALSE(tls_required_no("X-TLS-Required: No\r\n\r\n"));
    EXPECT_FALSE(tls_required_no("Subject: x\r\n\r\nTLS-Required: No\r\n"));  // in the body
    EXPECT_FALSE(tls_required_no("\r\nTLS-Required: No\r\n"));  // no header block at all
    // The first field decides (a second one is not the sender's).
    EXPECT_FALSE(tls_required_no("TLS-Required: Yes\r\nTLS-Required: No\r\n\r\n"));
    EXPECT_FALSE(tls_required_no(""));
    EXPECT_FALSE(tls_required_no(std::string(70000, 'x')));
}

TEST(HeaderFields, MessageId) {
    EXPECT_EQ(find_message_id("Message-ID: <a@b>\r\n\r\n"), "a@b");
    EXPECT_EQ(find_message_id("Subject: x\r\n\r\nMessage-ID: <a@b>\r\n"), "");
    EXPECT_EQ(find_message_id("Message-ID: a@b\r\n"), "");
}

}  // namespace
}  // namespace dr::smtp
