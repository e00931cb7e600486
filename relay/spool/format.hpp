// The queue file format (relay/spool/SPOOL.md): framed, checksummed records, encoded and parsed
// without I/O. Entry points: encode_record(), parse_record_header(), encode/decode_envelope(),
// encode/decode_status(), crc32(). A decode failure (nullopt) means a torn or corrupt record.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/spool/types.hpp"

namespace dr::relay {

// First bytes of every queue file; the trailing digit is the format version. Version 2 files
// may hold the envelope keys of RFC 8689 (requiretls, tls-required); a file without them is
// written as version 1, which readers from before version 2 still read.
inline constexpr std::string_view kSpoolMagic = "DRSPOOL1\n";
inline constexpr std::string_view kSpoolMagic2 = "DRSPOOL2\n";
bool is_spool_magic(std::string_view head);  // either version
bool needs_version_2(const QueuedEnvelope& env);

enum class RecordType : char {
    body = 'B',      // once, right after the magic (streamed in while the message arrives)
    envelope = 'E',  // once, right after the body (known only at the end of DATA)
    status = 'S',    // journal: recipient state changes, appended
    hold = 'H',      // journal: "hold" or "release", appended
    notice = 'N',    // journal: the bounce notice's queue ID, or "none"; appended
    delay = 'D',     // journal: the delay notice's queue ID, or "none"; appended
};

// "T LLLLLLLLLLLLLLLL CCCCCCCC\n": type, payload length (16 hex digits), CRC-32 of the payload
// (8 hex digits). The payload follows, then one '\n' so the file stays readable with less(1).
inline constexpr std::size_t kRecordHeaderSize = 28;
inline constexpr std::size_t kRecordTrailerSize = 1;
inline constexpr std::uint64_t kMaxRecordLength = std::uint64_t{1} << 48;

struct RecordHeader {
    RecordType type;
    std::uint64_t length;
    std::uint32_t crc;
};

std::uint32_t crc32(std::string_view data, std::uint32_t crc = 0);

std::string encode_record_header(RecordType type, std::uint64_t length, std::uint32_t crc);
std::string encode_record(RecordType type, std::string_view payload);
// nullopt when the bytes are not a well-formed header (torn write, garbage, zeros).
std::optional<RecordHeader> parse_record_header(std::string_view bytes);
// Checks the payload against a parsed header: CRC and the trailing '\n'.
bool record_payload_ok(const RecordHeader& h, std::string_view payload_and_trailer);

std::string encode_envelope(const QueuedEnvelope& env);
std::optional<QueuedEnvelope> decode_envelope(std::string_view payload);

std::string encode_status(const std::vector<StatusUpdate>& updates);
std::optional<std::vector<StatusUpdate>> decode_status(std::string_view payload);

// Field escaping used inside envelope and status payloads (tab-separated lines).
std::string escape_field(std::string_view s);
std::optional<std::string> unescape_field(std::string_view s);

}  // namespace dr::relay
