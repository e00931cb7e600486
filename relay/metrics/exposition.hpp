// Prometheus text exposition format 0.0.4: "# HELP" and "# TYPE" lines, then samples
// `name{label="value",…} number`. Entry points: Exposition (a page being written),
// escape_label_value(), escape_help(), format_value(). Pure string work, no I/O, no errors.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace dr::relay {

// In a label value: backslash, double quote and line feed become \\, \" and \n.
std::string escape_label_value(std::string_view value);
// In HELP text: backslash and line feed become \\ and \n.
std::string escape_help(std::string_view text);
// Go's float syntax as Prometheus parses it: shortest round-trip form, "+Inf", "-Inf", "NaN".
std::string format_value(double value);

struct Label {
    std::string_view name;
    std::string_view value;
};

class Exposition {
  public:
    // Starts a metric family; type is counter, gauge or histogram.
    void family(std::string_view name, std::string_view type, std::string_view help);
    void sample(std::string_view name, std::initializer_list<Label> labels, double value);
    void sample(std::string_view name, std::initializer_list<Label> labels, std::uint64_t value);
    const std::string& text() const { return out_; }

  private:
    void labels(std::initializer_list<Label> labels);
    std::string out_;
};

}  // namespace dr::relay
