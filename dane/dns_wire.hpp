// Decoding of DNS wire-format RDATA (RFC 1035 §3.3, RFC 6698 §2.1) as
// libunbound hands it over: MX, A, AAAA, TLSA. Pure functions, no I/O; each
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

}  // namespace dr::dane::wire
