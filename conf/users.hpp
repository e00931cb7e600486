// The [server] auth_users file (SPEC §3): one "user:hash" line per user who may AUTH, the
// hash as `mkpasswd` or `openssl passwd -6` makes it (yescrypt "$y$", sha512-crypt "$6$", ...).
// Blank lines and "#" comments are allowed. Entry points: parse_users, load_users,
// crypt_hash_problem. Errors are values: every wrong line as "file:line: reason", and the
// caller refuses the whole file (the daemon does not start, or keeps its old table).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace dr::conf {

struct UsersFile {
    std::map<std::string, std::string, std::less<>> users;  // user -> crypt(3) hash
    std::vector<std::string> errors;                        // empty: usable
    bool ok() const { return errors.empty(); }
};

// `source` is the "file" of the error messages.
UsersFile parse_users(std::string_view text, std::string_view source);
// Reads and parses the file; an unreadable one is the error "path: cannot open: reason".
// Blocking (and one crypt(3) per line): call it off the event loop.
UsersFile load_users(const std::string& path);

// Why `hash` is not a crypt(3) hash this relay accepts, or "" when it is. Legacy methods
// (DES, MD5, ...) are refused: a DES "hash" cannot be told from a 13-letter plain password.
// Runs crypt(3) once, to catch a hash cut short.
std::string crypt_hash_problem(std::string_view hash);

}  // namespace dr::conf
