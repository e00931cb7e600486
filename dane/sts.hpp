// The texts of MTA-STS (RFC 8461) and SMTP TLS Reporting (RFC 8460), parsed without I/O:
// the `_mta-sts` TXT record, the policy file served at
// https://mta-sts.<domain>/.well-known/mta-sts.txt, the match of an MX host against the
// policy's `mx` patterns, and the `_smtp._tls` TXT record with its `rua` addresses.
// Entry points: choose_sts_record(), parse_sts_policy(), sts_mx_matches(),
// choose_tlsrpt_record(). Every parser is strict: anything the RFC's ABNF does not allow
// is an error with a reason, never a half-read value, so that a bad policy can never pass
// for "no policy" where a valid cached one exists (the caller keeps the cached one).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dr::dane {

// A value, or why the text is not one.
template <typename T>
struct Parsed {
    std::optional<T> value;
    std::string error;  // set when !value
    explicit operator bool() const { return value.has_value(); }
};

// `v=STSv1; id=...;` (RFC 8461 §3.1).
struct StsRecord {
    std::string id;  // 1-32 letters and digits; a new id means a new policy to fetch
};

// One TXT record's text (its strings joined).
Parsed<StsRecord> parse_sts_record(std::string_view txt);

// The TXT RRset at _mta-sts.<domain>: records that do not begin "v=STSv1" are dropped;
// exactly one must remain and parse, otherwise the domain has no usable STS record
// (RFC 8461 §3.1) and the error says why.
Parsed<StsRecord> choose_sts_record(const std::vector<std::string>& txts);

enum class StsMode { enforce, testing, none };
const char* to_string(StsMode m);

// The policy file (RFC 8461 §3.2).
struct StsPolicy {
    StsMode mode = StsMode::none;
    std::uint32_t max_age = 0;  // seconds, at most kStsMaxAge
    std::vector<std::string>
        mx;  // patterns, lower case, no trailing dot: "mx.example.com", "*.example.net"
};

inline constexpr std::uint32_t kStsMaxAge = 31557600;         // one year (RFC 8461 §3.2)
inline constexpr std::size_t kStsMaxPolicyBytes = 64 * 1024;  // RFC 8461 §3.3: 64 KB

// The body as fetched. Lines end in LF or CRLF; `version: STSv1`, `mode` and `max_age`
// once each, `mx` one or more times (none needed with mode none); unknown keys are
// ignored, as the RFC requires, but must still be well formed.
Parsed<StsPolicy> parse_sts_policy(std::string_view body);

// RFC 8461 §4.1: an MX host matches "mx.example.com" exactly (case-insensitive, trailing
// dot ignored), and "*.example.com" only with exactly one more label on the left.
bool sts_mx_matches(std::string_view pattern, std::string_view host);
bool sts_policy_allows(const StsPolicy& p, std::string_view host);

// `v=TLSRPTv1; rua=mailto:...,https://...` (RFC 8460 §3).
struct TlsrptRecord {
    std::vector<std::string> rua;  // "mailto:..." or "https://...", as published
};
Parsed<TlsrptRecord> parse_tlsrpt_record(std::string_view txt);

// The TXT RRset at _smtp._tls.<domain>: as choose_sts_record(), for "v=TLSRPTv1".
Parsed<TlsrptRecord> choose_tlsrpt_record(const std::vector<std::string>& txts);

}  // namespace dr::dane
