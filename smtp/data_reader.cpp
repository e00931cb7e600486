#include "smtp/data_reader.hpp"

#include <algorithm>

namespace dr::smtp {

std::string_view to_string(DataError e) {
    switch (e) {
        case DataError::bare_lf:
            return "bare <LF> received";
        case DataError::bare_cr:
            return "bare <CR> received";
        case DataError::nul:
            return "NUL character received";
        case DataError::line_too_long:
            return "line too long";
        case DataError::too_big:
            return "message too big";
    }
    return "bad message data";
}

void DataReader::fail(DataError e) {
    if (!error_) error_ = e;
}

// Appends what fits under the size limit, so that the output does not depend on how
// the input was split into chunks.
void DataReader::emit(std::string& out, std::string_view bytes) {
    if (limits_.max_size > 0 && size_ + bytes.size() > limits_.max_size) {
        std::size_t room = size_ < limits_.max_size ? limits_.max_size - size_ : 0;
        if (!error_) out.append(bytes.substr(0, room));
        fail(DataError::too_big);
    } else if (!error_) {
        out.append(bytes);
    }
    size_ += bytes.size();
}

// One octet inside a line (not CR): LF here is a bare LF, since CRLF is handled in `cr`.
void DataReader::byte_in_line(char c, std::string& out) {
    state_ = State::in_line;
    if (c == '\r') {
        state_ = State::cr;
        return;
    }
    if (c == '\n')
        fail(DataError::bare_lf);
    else if (c == '\0')
        fail(DataError::nul);
    if (++line_length_ > limits_.max_line) fail(DataError::line_too_long);
    emit(out, std::string_view(&c, 1));
}

std::size_t DataReader::feed(std::string_view in, std::string& out) {
    std::size_t i = 0;
    while (i < in.size() && state_ != State::done) {
        char c = in[i++];
        switch (state_) {
            case State::line_start:
                line_length_ = 0;
                // RFC 5321 §4.5.2: a leading "." is removed; "." alone ends the data.
                if (c == '.')
                    state_ = State::dot;
                else
                    byte_in_line(c, out);
                break;
            case State::dot:
                if (c == '\r')
                    state_ = State::dot_cr;
                else
                    byte_in_line(c, out);
                break;
            case State::dot_cr:
                // Only CRLF "." CRLF ends the data; ".<CR>x" has a bare CR (CVE-2023-51764).
                if (c == '\n') {
                    state_ = State::done;
                } else {
                    fail(DataError::bare_cr);
                    emit(out, "\r");  // the "." was stuffing
                    byte_in_line(c, out);
                }
                break;
            case State::in_line: {
                // Fast path: copy the run of ordinary octets up to the next CR, LF or NUL.
                std::size_t start = i - 1;
                std::size_t end = in.find_first_of(std::string_view("\r\n\0", 3), start);
                if (end == std::string_view::npos) end = in.size();
                if (end == start) {
                    byte_in_line(c, out);
                    break;
                }
                std::string_view run = in.substr(start, end - start);
                std::size_t room = limits_.max_line - std::min(line_length_, limits_.max_line);
                if (run.size() > room) {
                    emit(out, run.substr(0, room));
                    fail(DataError::line_too_long);
                    run.remove_prefix(room);
                }
                line_length_ += end - start;
                emit(out, run);
                i = end;
                break;
            }
            case State::cr:
                if (c == '\n') {
                    emit(out, "\r\n");
                    state_ = State::line_start;
                } else {
                    fail(DataError::bare_cr);
                    emit(out, "\r");
                    byte_in_line(c, out);
                }
                break;
            case State::done:
                break;
        }
    }
    return i;
}

}  // namespace dr::smtp
