#include "dane/dns_wire.hpp"

#include <cctype>

namespace dr::dane::wire {

namespace {
constexpr std::size_t kMaxName = 255;  // RFC 1035 §2.3.4, wire octets
constexpr std::size_t kMaxLabel = 63;

bool plain_char(std::uint8_t c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '*';
}

void append_label(std::string& out, std::span<const std::uint8_t> label) {
    for (auto c : label) {
        if (plain_char(c)) {
            out += static_cast<char>(std::tolower(c));
        } else {
            char esc[5];
            std::snprintf(esc, sizeof esc, "\\%03u", static_cast<unsigned>(c));
            out += esc;
        }
    }
}
}  // namespace

std::optional<std::string> decode_name(std::span<const std::uint8_t> data, std::size_t& consumed) {
    std::string out;
    std::size_t pos = 0;
    while (true) {
        if (pos >= data.size()) return std::nullopt;
        std::size_t len = data[pos];
        // Compression pointers (top bits 11) and extended labels are not
        // valid in the uncompressed RDATA libunbound returns.
        if (len > kMaxLabel) return std::nullopt;
        if (pos + 1 + len > data.size()) return std::nullopt;
        if (pos + 1 + len > kMaxName) return std::nullopt;
        if (len == 0) {
            consumed = pos + 1;
            return out;
        }
        if (!out.empty()) out += '.';
        append_label(out, data.subspan(pos + 1, len));
        pos += 1 + len;
    }
}

std::optional<MxRecord> decode_mx(std::span<const std::uint8_t> rdata) {
    if (rdata.size() < 3) return std::nullopt;
    MxRecord mx;
    mx.preference = static_cast<std::uint16_t>(rdata[0] << 8 | rdata[1]);
    std::size_t used = 0;
    auto name = decode_name(rdata.subspan(2), used);
    if (!name || 2 + used != rdata.size()) return std::nullopt;
    mx.host = std::move(*name);
    return mx;
}

std::optional<IpAddress> decode_a(std::span<const std::uint8_t> rdata) {
    if (rdata.size() != 4) return std::nullopt;
    IpAddress ip;
    ip.family = IpAddress::Family::v4;
    std::copy(rdata.begin(), rdata.end(), ip.bytes.begin());
    return ip;
}

std::optional<IpAddress> decode_aaaa(std::span<const std::uint8_t> rdata) {
    if (rdata.size() != 16) return std::nullopt;
    IpAddress ip;
    ip.family = IpAddress::Family::v6;
    std::copy(rdata.begin(), rdata.end(), ip.bytes.begin());
    return ip;
}

std::optional<TlsaRecord> decode_tlsa(std::span<const std::uint8_t> rdata) {
    // RFC 6698 §2.1: three one-octet fields, then the association data,
    // which must not be empty (§2.1.4 leaves no room for a zero-length value).
    if (rdata.size() < 4) return std::nullopt;
    TlsaRecord r;
    r.usage = rdata[0];
    r.selector = rdata[1];
    r.mtype = rdata[2];
    r.data.assign(rdata.begin() + 3, rdata.end());
    return r;
}

}  // namespace dr::dane::wire
