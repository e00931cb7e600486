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

std::optional<std::string> decode_txt(std::span<const std::uint8_t> rdata) {
    if (rdata.empty()) return std::nullopt;
    std::string text;
    for (std::size_t pos = 0; pos < rdata.size();) {
        const std::size_t len = rdata[pos++];
        if (len > rdata.size() - pos) return std::nullopt;
        text.append(reinterpret_cast<const char*>(rdata.data() + pos), len);
        pos += len;
    }
    return text;
}

namespace {

// Skips a possibly compressed name at data[pos]; false when it runs off the end.
bool skip_name(std::span<const std::uint8_t> data, std::size_t& pos) {
    while (pos < data.size()) {
        std::uint8_t len = data[pos];
        if (len == 0) return ++pos, true;
        if ((len & 0xC0) == 0xC0) return (pos += 2) <= data.size();
        if (len & 0xC0) return false;  // the extended label types are not used
        pos += 1 + len;
    }
    return false;
}

std::uint32_t u16(std::span<const std::uint8_t> d, std::size_t p) {
    return static_cast<std::uint32_t>(d[p] << 8 | d[p + 1]);
}

}  // namespace

std::optional<std::uint32_t> rrsig_expiration(std::span<const std::uint8_t> packet,
                                              std::uint16_t covered) {
    if (packet.size() < 12) return std::nullopt;
    std::uint32_t qd = u16(packet, 4), an = u16(packet, 6);
    std::size_t pos = 12;
    for (std::uint32_t i = 0; i < qd; ++i)
        if (!skip_name(packet, pos) || (pos += 4) > packet.size()) return std::nullopt;
    std::optional<std::uint32_t> soonest;
    for (std::uint32_t i = 0; i < an; ++i) {
        if (!skip_name(packet, pos) || pos + 10 > packet.size()) return soonest;
        std::uint32_t type = u16(packet, pos), rdlen = u16(packet, pos + 8);
        pos += 10;
        if (pos + rdlen > packet.size()) return soonest;
        // RFC 4034 §3.1: type covered (2), algorithm, labels, original TTL (4), expiration (4).
        if (type == 46 && rdlen >= 12 && u16(packet, pos) == covered) {
            std::uint32_t e = u16(packet, pos + 8) << 16 | u16(packet, pos + 10);
            // RFC 4034 §3.1.5: serial number arithmetic (RFC 1982).
            if (!soonest || static_cast<std::int32_t>(e - *soonest) < 0) soonest = e;
        }
        pos += rdlen;
    }
    return soonest;
}

}  // namespace dr::dane::wire
