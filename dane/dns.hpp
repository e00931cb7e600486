// DNS answers as the DANE engine sees them: records plus their DNSSEC
// security (RFC 4033 §5: secure, insecure, bogus) or a lookup failure.
// Bogus is never "not found" (DESIGN §3.6): callers must treat it as an error.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace dr::dane {

enum class Security { secure, insecure, bogus, failure };

// What the name server said, independent of the security verdict.
enum class Outcome { found, nodata, nxdomain, error };

struct MxRecord {
    std::uint16_t preference = 0;
    std::string host;  // presentation form, lower case, no trailing dot; "" for the root (null MX)
    bool operator==(const MxRecord&) const = default;
};

struct IpAddress {
    enum class Family { v4, v6 } family = Family::v4;
    std::array<std::uint8_t, 16> bytes{};  // v4 uses the first four
    std::string to_string() const;
    bool operator==(const IpAddress&) const = default;
};

// Lower-case hex of `n` bytes (TLSA data, digests).
std::string to_hex(const std::uint8_t* p, std::size_t n);

struct TlsaRecord {
    std::uint8_t usage = 0;
    std::uint8_t selector = 0;
    std::uint8_t mtype = 0;
    std::vector<std::uint8_t> data;
    std::string to_string() const;  // "3 1 1 abcd…" (lower-case hex)
    bool operator==(const TlsaRecord&) const = default;
};

template <class T>
struct Lookup {
    Security security = Security::failure;
    Outcome outcome = Outcome::error;
    std::vector<T> records;
    std::string canonical;      // final owner name after CNAMEs (lower case, no trailing dot)
    std::string why;            // failure or bogus reason, empty otherwise
    std::size_t malformed = 0;  // records whose RDATA could not be decoded (skipped)
    // The earliest expiration of the RRSIGs over the answer RRset (Unix time, RFC 4034 §3.1.5),
    // 0 when unknown (no signature in the answer, or not looked at).
    std::int64_t sig_expires = 0;

    bool ok() const { return outcome != Outcome::error && security != Security::bogus; }
    bool secure() const { return security == Security::secure; }
};

const char* to_string(Security s);
const char* to_string(Outcome o);

// Lower-cases and strips one trailing dot: DNS names compare case-insensitively.
std::string normalize_name(std::string_view name);

}  // namespace dr::dane

namespace dr::dane {

// Why `name` cannot be a recipient domain (RFC 1035 §2.3.1 LDH syntax, at
// most 253 octets, labels of 1-63), or nullopt when it can. IP literals and
// names that look like IPv4 addresses are refused with a clear text.
std::optional<std::string> domain_name_error(std::string_view name);

}  // namespace dr::dane
