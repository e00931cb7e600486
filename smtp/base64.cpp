#include "smtp/base64.hpp"

#include <cstdint>

namespace dr::smtp {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

}  // namespace

std::optional<std::string> base64_decode(std::string_view in) {
    if (in.size() % 4 != 0) return std::nullopt;
    std::string out;
    for (std::size_t i = 0; i < in.size(); i += 4) {
        bool last = i + 4 == in.size();
        int pad = 0;
        std::uint32_t group = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            char c = in[i + k];
            int v = value(c);
            if (c == '=' && last && k >= 2) {
                ++pad;
                v = 0;
            } else if (v < 0 || pad > 0) {
                return std::nullopt;  // bad character, or data after padding
            }
            group = (group << 6) | static_cast<std::uint32_t>(v);
        }
        // RFC 4648 §3.5: the unused bits before padding must be zero (canonical form).
        if ((pad == 1 && (group & 0xFF) != 0) || (pad == 2 && (group & 0xFFFF) != 0))
            return std::nullopt;
        out += static_cast<char>((group >> 16) & 0xFF);
        if (pad < 2) out += static_cast<char>((group >> 8) & 0xFF);
        if (pad < 1) out += static_cast<char>(group & 0xFF);
    }
    return out;
}

std::string base64_encode(std::string_view in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); i += 3) {
        std::uint32_t group = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
        if (i + 1 < in.size())
            group |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
        if (i + 2 < in.size()) group |= static_cast<unsigned char>(in[i + 2]);
        out += kAlphabet[(group >> 18) & 63];
        out += kAlphabet[(group >> 12) & 63];
        out += i + 1 < in.size() ? kAlphabet[(group >> 6) & 63] : '=';
        out += i + 2 < in.size() ? kAlphabet[group & 63] : '=';
    }
    return out;
}

}  // namespace dr::smtp
