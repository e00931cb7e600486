// SASL PLAIN (RFC 4616) and LOGIN credentials for SMTP AUTH (RFC 4954), without I/O.
// Entry points: parse_auth_plain (a decoded PLAIN message), auth_prompts (per mechanism).
// Failures: nullopt for a malformed message or an unsupported mechanism.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dr::smtp {

struct Credentials {
    std::string user;
    std::string password;
};

// RFC 4616 §2: [authzid] NUL authcid NUL passwd. An authorization identity other than
// the authentication identity is refused: we do not support acting for somebody else.
std::optional<Credentials> parse_auth_plain(std::string_view message);

// The base64 prompts the server sends for a mechanism ("PLAIN": one empty challenge;
// "LOGIN": "Username:", "Password:"); nullopt when the mechanism is not supported.
std::optional<std::vector<std::string>> auth_prompts(std::string_view mechanism);

}  // namespace dr::smtp
