// EHLO capability list (RFC 5321 §4.1.1.1, §2.2.2), without I/O.
// Entry point: parse_ehlo(reply) turns a 250 EHLO reply into Capabilities.
// Unknown keywords are kept in `keywords`; malformed lines are skipped (RFC 5321 §2.2.2: ignore).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "smtp/reply.hpp"

namespace dr::smtp {

struct Capabilities {
    std::string greeting;                // first line: the server's name and free text
    bool pipelining = false;             // RFC 2920
    bool starttls = false;               // RFC 3207
    bool eightbitmime = false;           // RFC 6152
    bool smtputf8 = false;               // RFC 6531
    bool requiretls = false;             // RFC 8689
    bool dsn = false;                    // RFC 3461
    bool enhanced_status_codes = false;  // RFC 2034
    bool chunking = false;               // RFC 3030
    bool binarymime = false;             // RFC 3030
    bool size = false;                   // RFC 1870 SIZE offered
    std::uint64_t size_limit = 0;        // SIZE n; 0 means no fixed limit (RFC 1870 §4)
    std::vector<std::string> auth;       // SASL mechanisms, upper case
    std::vector<std::string> keywords;   // every keyword, upper case, with its parameters
};

// Parses the lines of a positive EHLO reply. Keywords are case-insensitive (§2.4).
Capabilities parse_ehlo(const Reply& reply);

}  // namespace dr::smtp
