// Base64 (RFC 4648 §4) for SMTP AUTH (RFC 4954), without I/O.
// Entry points: base64_decode (strict: padding required, no whitespace), base64_encode.
// Failures: base64_decode returns nullopt on any malformed input.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dr::smtp {

std::optional<std::string> base64_decode(std::string_view in);
std::string base64_encode(std::string_view in);

}  // namespace dr::smtp
