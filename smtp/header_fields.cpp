// See header_fields.hpp.
#include "smtp/header_fields.hpp"

#include <strings.h>

#include <optional>

namespace dr::smtp {

std::string find_message_id(std::string_view headers) {
    std::size_t pos = 0;
    while (pos < headers.size()) {
        std::size_t end = headers.find('\n', pos);
        std::string_view line =
            headers.substr(pos, end == std::string_view::npos ? end : end - pos);
        if (line.empty() || line == "\r") break;  // end of the header block
        if (line.size() > 11 && strncasecmp(line.data(), "Message-ID:", 11) == 0) {
            auto open = line.find('<'), close = line.find('>', open);
            if (open != std::string_view::npos && close != std::string_view::npos)
                return std::string(line.substr(open + 1, close - open - 1));
            return {};
        }
        if (end == std::string_view::npos) break;
        pos = end + 1;
    }
    return {};
}

bool tls_required_no(std::string_view headers) {
    constexpr std::string_view kName = "TLS-Required:";
    std::size_t pos = 0;
    std::optional<std::string> value;  // of the field being read, while it is folded on
    while (pos < headers.size()) {
        std::size_t end = headers.find('\n', pos);
        std::string_view line =
            headers.substr(pos, end == std::string_view::npos ? end : end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) break;  // end of the header block
        const bool folded = line[0] == ' ' || line[0] == '\t';
        if (value && folded) {
            *value += line;
        } else {
            if (value) break;  // the first TLS-Required field decides
            if (line.size() >= kName.size() &&
                strncasecmp(line.data(), kName.data(), kName.size()) == 0)
                value = std::string(line.substr(kName.size()));
        }
        if (end == std::string_view::npos) break;
        pos = end + 1;
    }
    if (!value) return false;
    auto b = value->find_first_not_of(" \t");
    auto e = value->find_last_not_of(" \t");
    return b != std::string::npos && e - b == 1 && strncasecmp(value->data() + b, "no", 2) == 0;
}

}  // namespace dr::smtp
