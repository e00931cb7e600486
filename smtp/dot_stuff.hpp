// Client side of DATA (RFC 5321 §4.5.2): dot-stuffing with CRLF line ends, as a stream.
// Entry points: DotStuffer::feed/finish, crlf_size (the RFC 1870 SIZE of a message).
// No failures: bare LF becomes CRLF, every other byte passes through unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dr::smtp {

class DotStuffer {
  public:
    // Appends the transmitted form of `in` to `out`; chunks may split lines anywhere.
    void feed(std::string_view in, std::string& out);
    // Ends the last line if needed and appends the terminating ".\r\n".
    void finish(std::string& out);

  private:
    bool line_start_ = true;
    bool after_cr_ = false;
};

// Octets of the message once every line ends in CRLF (before dot-stuffing), the
// figure the SIZE parameter announces (RFC 1870 §3).
std::uint64_t crlf_size(std::string_view message);

// RFC 3461 §4: xtext, used by ENVID and ORCPT.
std::string xtext_encode(std::string_view in);

}  // namespace dr::smtp
