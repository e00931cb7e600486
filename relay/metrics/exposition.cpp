// Prometheus text format 0.0.4 (see exposition.hpp).
#include "relay/metrics/exposition.hpp"

#include <array>
#include <charconv>
#include <cmath>

namespace dr::relay {

namespace {

std::string escape(std::string_view text, bool quote) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (c == '"' && quote)
            out += "\\\"";
        else
            out += c;
    }
    return out;
}

}  // namespace

std::string escape_label_value(std::string_view value) {
    return escape(value, true);
}

std::string escape_help(std::string_view text) {
    return escape(text, false);
}

std::string format_value(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    std::array<char, 64> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
    return std::string(buf.data(), ec == std::errc() ? end : buf.data());
}

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
    out_.append("# HELP ").append(name).append(" ").append(escape_help(help)).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void Exposition::labels(std::initializer_list<Label> labels) {
    if (labels.size() == 0) return;
    char sep = '{';
    for (const auto& l : labels) {
        out_ += sep;
        out_.append(l.name).append("=\"").append(escape_label_value(l.value)).append("\"");
        sep = ',';
    }
    out_ += '}';
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> labels, double value) {
    out_.append(name);
    this->labels(labels);
    out_.append(" ").append(format_value(value)).append("\n");
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> labels,
                        std::uint64_t value) {
    out_.append(name);
    this->labels(labels);
    out_.append(" ").append(std::to_string(value)).append("\n");
}

}  // namespace dr::relay
