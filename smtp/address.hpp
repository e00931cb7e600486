// Mailbox and path syntax of RFC 5321 §4.1.2 (with RFC 6531 UTF-8), without I/O.
// Entry points: parse_path (MAIL/RCPT "<...>"), parse_mailbox, xtext_decode (RFC 3461 §4).
// Failures: PathError, mapped by the command parser to 501/553 replies.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace dr::smtp {

struct Path {
    std::string address;  // "local@domain" as sent (quotes kept); empty for "<>"
    std::string local;    // local part as sent
    std::string domain;   // domain or address literal ("[192.0.2.1]")
    bool utf8 = false;    // contains non-ASCII octets (needs SMTPUTF8, RFC 6531 §3.3)
};

enum class PathError {
    syntax,    // not a path
    too_long,  // RFC 5321 §4.5.3.1: local part 64, domain 255, path 256 octets
    bad_utf8,  // non-ASCII that is not well-formed UTF-8
};

struct PathResult {
    std::optional<Path> path;
    PathError error = PathError::syntax;
    std::size_t length = 0;  // octets of input consumed (through the closing '>')
};

// Parses "<...>" at the start of `in`. A source route "<@a,@b:user@c>" is accepted and
// ignored (RFC 5321 §4.1.2, Appendix C). `allow_empty` for the reverse-path "<>";
// `allow_postmaster` for "RCPT TO:<Postmaster>" (§4.5.1).
PathResult parse_path(std::string_view in, bool allow_empty, bool allow_postmaster);

// RFC 5321 Mailbox: Local-part "@" ( Domain / address-literal ).
std::optional<Path> parse_mailbox(std::string_view in);

// RFC 3461 §4: "+" followed by two upper-case hex digits; printable ASCII except "+" "=".
std::optional<std::string> xtext_decode(std::string_view in);

bool valid_utf8(std::string_view s);

}  // namespace dr::smtp
