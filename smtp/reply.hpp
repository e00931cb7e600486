// SMTP reply parsing (RFC 5321 §4.2, RFC 2034/3463 enhanced status codes), without I/O.
// Entry points: ReplyParser (feed one line at a time), parse_reply (a whole reply in a buffer).
// Failures: a malformed line yields ReplyError; the peer is then not speaking SMTP.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dr::smtp {

// One complete reply: the three-digit code, the enhanced status code when
// the server sent one (RFC 2034), and the text of every line with both removed.
struct Reply {
    int code = 0;
    std::string enhanced;            // "2.1.5", empty when absent
    std::vector<std::string> lines;  // at least one entry, possibly empty text

    int kind() const { return code / 100; }  // 2, 3, 4 or 5
    bool positive() const { return kind() == 2 || kind() == 3; }
    bool transient() const { return kind() == 4; }
    bool permanent() const { return kind() == 5; }
    // RFC 3463 status of this reply: the enhanced code, or "<class>.0.0".
    std::string status() const;
    // "250 2.0.0 Ok: queued as X" with lines joined by a space, as Postfix logs it.
    std::string text() const;
};

enum class ReplyError {
    bad_code,          // not three digits, or first digit outside 2..5
    bad_separator,     // the fourth character is neither ' ' nor '-'
    code_mismatch,     // a continuation line carries another code (§4.2.1)
    too_long,          // a line beyond max_line_length
    too_many_lines,    // more continuation lines than max_lines
    too_large,         // the lines together beyond max_bytes
    truncated,         // parse_reply: input ended inside a multi-line reply
    trailing_garbage,  // parse_reply: bytes after the last line
};
std::string_view to_string(ReplyError e);

// Replies are at most 512 octets per line (RFC 5321 §4.5.3.1.5), but real
// servers send longer ones; we accept up to these limits and no more.
struct ReplyLimits {
    std::size_t max_line_length = 4096;
    std::size_t max_lines = 256;
    std::size_t max_bytes = 256 * 1024;  // all lines of one reply together (SPEC §12)
};

// Incremental parser: the caller strips CRLF and feeds lines until done().
class ReplyParser {
  public:
    explicit ReplyParser(ReplyLimits limits = {}) : limits_(limits) {}

    // Returns an error for a malformed line; after that the parser must be reset().
    std::optional<ReplyError> feed(std::string_view line);
    bool done() const { return done_; }
    // The finished reply; valid only when done(). Leaves the parser reset.
    Reply take();
    void reset();

  private:
    ReplyLimits limits_;
    Reply reply_;
    std::size_t bytes_ = 0;
    bool done_ = false;
};

struct ReplyResult {
    std::optional<Reply> reply;
    std::optional<ReplyError> error;
};
// Parses exactly one reply from bytes with CRLF (or bare LF) line ends.
ReplyResult parse_reply(std::string_view bytes, ReplyLimits limits = {});

// RFC 3463 §2: class "." subject "." detail; class 2, 4 or 5; subject and
// detail 1-3 digits. Returns the length of the code at the start of text, 0 if none.
std::size_t enhanced_code_length(std::string_view text);

}  // namespace dr::smtp
