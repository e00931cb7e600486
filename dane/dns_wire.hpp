// Decoding of DNS wire-format RDATA (RFC 1035 §3.3, RFC 6698 §2.1) as
// libunbound hands it over: MX, A, AAAA, TLSA, TXT; and the RRSIG expiration in a
// whole answer message. Pure functions, no I/O; each
// returns std::nullopt for malformed input (the fuzz target drives them).
#pragma once

#include <optional>
#include <span>
#include <string>

#include "dane/dns.hpp"

namespace dr::dane::wire {

// An uncompressed domain name starting at data[0]; on success `consumed`
// is set to its length. Labels with bytes outside LDH are escaped as \DDD.
std::optional<std::string> decode_name(std::span<const std::uint8_t> data, std::size_t& consumed);

std::optional<MxRecord> decode_mx(std::span<const std::uint8_t> rdata);
std::optional<IpAddress> decode_a(std::span<const std::uint8_t> rdata);
std::optional<IpAddress> decode_aaaa(std::span<const std::uint8_t> rdata);
std::optional<TlsaRecord> decode_tlsa(std::span<const std::uint8_t> rdata);
// A TXT record's character-strings (RFC 1035 §3.3.14: one or more, each a length octet and
// that many bytes) joined into one text, as RFC 8461 §3.1 and RFC 8460 §3 read them.
std::optional<std::string> decode_txt(std::span<const std::uint8_t> rdata);

// The soonest signature expiration (RFC 4034 §3.1.5, seconds since the epoch modulo 2^32) of
// the RRSIGs covering `covered` in the answer section of a whole DNS message; nullopt when
// there is none. A message cut short yields what was read before the cut.
std::optional<std::uint32_t> rrsig_expiration(std::span<const std::uint8_t> packet,
                                              std::uint16_t covered);

}  // namespace dr::dane::wire
