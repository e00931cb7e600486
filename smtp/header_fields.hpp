// Fields of a message's header block (RFC 5322 §2.2) that the relay reads as mail passes:
// the Message-ID for the log, and RFC 8689's "TLS-Required: No". Pure; the input may be any
// bytes, cut anywhere (the inbound side scans the first 64 KB). Entry points:
// find_message_id(), tls_required_no().
#pragma once

#include <string>
#include <string_view>

namespace dr::smtp {

// The Message-ID of a header block, without angle brackets; "" when absent.
std::string find_message_id(std::string_view headers);

// RFC 8689 §4.1: the first TLS-Required field of the header block says "No" (name and
// value case-insensitive, folding and spaces allowed).
bool tls_required_no(std::string_view headers);

}  // namespace dr::smtp
