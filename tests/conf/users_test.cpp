// The auth_users file: good lines (hashes made here with crypt(3): yescrypt, sha512-crypt,
// bcrypt), comments and blanks, and every refusal with its "file:line: reason"; the
// [server] auth_users key and its need for [tls].
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "conf/config.hpp"
#include "conf/users.hpp"
#include "tests/support/crypt_hash.hpp"

using namespace dr::conf;

using dr::test::make_hash;

namespace {

std::string first_error(std::string_view text) {
    auto f = parse_users(text, "users");
    return f.errors.empty() ? "no error" : f.errors.front();
}

}  // namespace

TEST(UsersFile, GoodLinesCommentsAndBlanks) {
    std::string y = make_hash("$y$", "one"), six = make_hash("$6$", "two");
    std::string text = "# who may AUTH\n\nalice:" + y +
                       "\n  \n   # indented comment\nbob@example.org:" + six + "  \r\n";
    auto f = parse_users(text, "users");
    ASSERT_TRUE(f.ok()) << f.errors.front();
    ASSERT_EQ(f.users.size(), 2u);
    EXPECT_EQ(f.users.at("alice"), y);
    EXPECT_EQ(f.users.at("bob@example.org"), six);  // trailing blanks and CR are not the hash's
}

TEST(UsersFile, OpensslAndBcryptHashesAreAccepted) {
    // `openssl passwd -6 secret` with a fixed salt, as an operator pastes it.
    std::string openssl =
        "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8w"
        "iOQSpT0Y77vwPZN.Pq.H91p5hVO1";
    EXPECT_EQ(crypt_hash_problem(openssl), "");
    EXPECT_EQ(crypt_hash_problem(make_hash("$2b$", "x")), "");
}

TEST(UsersFile, WrongLinesNameFileAndLine) {
    std::string good = make_hash("$y$", "pw");
    struct Case {
        std::string line, message;
    } cases[] = {
        {"alice", "users:2: no ':' (a line is user:hash)"},
        {":" + good, "users:2: empty user name"},
        {"al ice:" + good, "users:2: user name with a blank or control character"},
        {"alice:", "users:2: empty hash"},
        {"alice:secret",
         "users:2: a legacy crypt(3) method (DES, MD5, ...) or a plain password; "
         "make the hash with `mkpasswd -m yescrypt` or `openssl passwd -6`"},
        {"alice:!" + good, "users:2: a locked account, not a crypt(3) hash"},
        {"alice:" + good + ":19000:0:99999:7:::",
         "users:2: more than one ':' (an /etc/shadow line? give only user:hash)"},
        {"alice:$9$nothing$here", "users:2: not a crypt(3) hash"},
        {"alice:$1$abcdefgh$1234567890123456789012",
         "users:2: a legacy crypt(3) method (DES, "
         "MD5, ...) or a plain password; make the hash "
         "with `mkpasswd -m yescrypt` or `openssl "
         "passwd -6`"},
        {"alice:" + good.substr(0, good.size() - 5),
         "users:2: an incomplete crypt(3) hash (cut short, or only a salt)"},
        {"alice:$6$onlyasalt", "users:2: an incomplete crypt(3) hash (cut short, or only a salt)"},
    };
    for (const auto& c : cases) EXPECT_EQ(first_error("# header\n" + c.line + "\n"), c.message);
}

TEST(UsersFile, EveryWrongLineIsReportedAndNothingIsKept) {
    std::string good = make_hash("$6$", "pw");
    auto f = parse_users("alice:" + good + "\nbroken\n\nalice:" + good + "\n:x\n", "/etc/u");
    ASSERT_EQ(f.errors.size(), 3u);
    EXPECT_EQ(f.errors[0], "/etc/u:2: no ':' (a line is user:hash)");
    EXPECT_EQ(f.errors[1], "/etc/u:4: user \"alice\" again (first on line 1)");
    EXPECT_EQ(f.errors[2], "/etc/u:5: empty user name");
    EXPECT_FALSE(f.ok());
}

TEST(UsersFile, AFileWithoutUsersIsRefused) {
    EXPECT_EQ(first_error("# nobody yet\n\n"), "users: no user:hash lines");
    EXPECT_EQ(first_error(""), "users: no user:hash lines");
}

TEST(UsersFile, LoadReadsTheFileAndNamesItInErrors) {
    char tmpl[] = "/tmp/dr-users-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    { std::ofstream(tmpl) << "alice:" << make_hash("$y$", "pw") << "\nbob\n"; }
    auto f = load_users(tmpl);
    ASSERT_EQ(f.errors.size(), 1u);
    EXPECT_EQ(f.errors[0], std::string(tmpl) + ":2: no ':' (a line is user:hash)");
    std::remove(tmpl);
    f = load_users(tmpl);
    ASSERT_EQ(f.errors.size(), 1u);
    EXPECT_EQ(f.errors[0], std::string(tmpl) + ": cannot open: No such file or directory");
}

TEST(UsersFile, ConfigKeyNeedsTls) {
    auto c = parse_config(
        "[server]\nauth_users = \"/etc/dane-relay/users\"\n[tls]\ncert = \"/c.pem\"\n"
        "key = \"/k.pem\"\n",
        "t.toml");
    EXPECT_EQ(c.server.auth_users, "/etc/dane-relay/users");
    EXPECT_EQ(parse_config("", "t.toml").server.auth_users, "");
    try {
        parse_config("[server]\nauth_users = \"/etc/dane-relay/users\"\n", "t.toml");
        ADD_FAILURE() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_STREQ(e.what(),
                     "t.toml:2:14: server.auth_users: needs [tls] cert and key (AUTH is offered "
                     "only after STARTTLS)");
    }
    try {
        parse_config("[server]\nauth_users = \"users\"\n", "t.toml");
        ADD_FAILURE() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("t.toml:2:14: server.auth_users: "), std::string::npos)
            << e.what();
    }
}
