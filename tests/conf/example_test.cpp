// The shipped deploy/dane-relay.toml says every key in it is the default; keep it true.
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "conf/config.hpp"

using namespace dr::conf;

namespace {
std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

Config defaults() {
    Config c;
    c.server.hostname = default_hostname();
    return c;
}
}  // namespace

TEST(ExampleConfig, EqualsTheDefaults) {
    EXPECT_EQ(load_config(DR_EXAMPLE_CONFIG), defaults());
}

TEST(ExampleConfig, EmptyFileGivesTheDefaults) {
    EXPECT_EQ(parse_config("", "empty.toml"), defaults());
}

TEST(ExampleConfig, CommentedExamplesAreValid) {
    // Uncomment the "# key = value" example lines: the file must still load and
    // give exactly what the comments promise.
    std::string text = read_file(DR_EXAMPLE_CONFIG);
    std::string uncommented =
        std::regex_replace(text, std::regex(R"(\n# ([a-z"][^\n]* = [^\n]*))"), "\n$1");
    ASSERT_NE(uncommented, text);
    Config c = parse_config(uncommented, "uncommented.toml");
    EXPECT_EQ(c.server.hostname, "relay.example.org");
    EXPECT_EQ(c.policy.for_domain("example.org").level, TlsLevel::dane_only);
    auto partner = c.policy.for_domain("partner.example");
    EXPECT_EQ(partner.level, TlsLevel::encrypt);
    ASSERT_TRUE(partner.nexthop.has_value());
    EXPECT_EQ(partner.nexthop->to_string(), "[mx.partner.example]:2525");
    EXPECT_FALSE(partner.nexthop->mx_lookup);
    EXPECT_EQ(c.metrics.listen, parse_endpoint("127.0.0.1:9190"));
}

TEST(ExampleConfig, MissingFileIsAConfigError) {
    try {
        load_config("/nonexistent/dane-relay.toml");
        FAIL() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_STREQ(e.what(),
                     "/nonexistent/dane-relay.toml: cannot open: No such file or directory");
    }
}

TEST(ExampleConfig, LoadConfigNamesTheFileInErrors) {
    char path[] = "/tmp/dr-conf-test-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    const char text[] = "[server]\nmax_message_size = \"5X\"\n";
    ASSERT_EQ(write(fd, text, sizeof text - 1), static_cast<ssize_t>(sizeof text - 1));
    close(fd);
    try {
        load_config(path);
        ADD_FAILURE() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()), std::string(path) +
                                             ":2:20: server.max_message_size: bad size \"5X\": "
                                             "unknown unit \"X\" (k, M or G)");
    }
    unlink(path);
}
