// The users that may AUTH (SPEC §3) with their crypt(3) hashes, and the check of a password.
// Entry points: Passwords (check), crypt_matches. check() runs a full crypt(3), which takes
// milliseconds by design: call it on a worker thread, never on an event loop.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace dr::smtp {

class Passwords {
  public:
    // user -> crypt(3) hash; at least one entry (the users file parser refuses an empty file).
    explicit Passwords(std::map<std::string, std::string, std::less<>> hashes);
    // True when `user` is listed and `password` matches its hash. An unknown user costs the
    // same: the password is hashed against a stand-in hash (the first entry's, so with the
    // same method and cost) and the answer is no.
    bool check(std::string_view user, std::string_view password) const;
    std::size_t size() const { return hashes_.size(); }

  private:
    std::map<std::string, std::string, std::less<>> hashes_;
    std::string stand_in_;
};

// crypt(3) of `password` with `hash` as setting, compared with `hash` in constant time.
// False for a password with a NUL (crypt(3) would cut it) or a hash crypt(3) refuses.
bool crypt_matches(std::string_view password, const std::string& hash);

}  // namespace dr::smtp
