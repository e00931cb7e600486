// Server side of DATA (RFC 5321 §4.5.2, §4.1.1.4) as a stream parser without I/O: removes
// dot-stuffing, ends only at CRLF.CRLF, counts the size. Entry point: DataReader::feed.
// Failures (SPEC §3): bare LF, bare CR or NUL (SMTP smuggling), overlong line, oversize message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dr::smtp {

enum class DataError { bare_lf, bare_cr, nul, line_too_long, too_big };
std::string_view to_string(DataError e);

struct DataLimits {
    std::size_t max_line = 998;  // octets without CRLF (RFC 5321 §4.5.3.1.6: 1000 with CRLF)
    std::uint64_t max_size = 0;  // message octets after un-stuffing; 0: no limit
};

class DataReader {
  public:
    explicit DataReader(DataLimits limits = {}) : limits_(limits) {}

    // Consumes bytes up to and including the end marker; returns how many were consumed
    // (the rest belongs to the next commands). The message, with CRLF line ends and
    // without stuffing, is appended to `out` until the first error; after an error the
    // reader still looks for the end marker so that the caller may reply and go on.
    std::size_t feed(std::string_view in, std::string& out);

    bool done() const { return state_ == State::done; }
    const std::optional<DataError>& error() const { return error_; }
    std::uint64_t size() const { return size_; }  // octets of the message as received

  private:
    enum class State { line_start, dot, dot_cr, in_line, cr, done };
    void fail(DataError e);
    void emit(std::string& out, std::string_view bytes);
    void byte_in_line(char c, std::string& out);

    DataLimits limits_;
    State state_ = State::line_start;
    std::optional<DataError> error_;
    std::uint64_t size_ = 0;
    std::size_t line_length_ = 0;
};

}  // namespace dr::smtp
