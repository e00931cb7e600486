#include "smtp/passwords.hpp"

#include <crypt.h>
#include <openssl/crypto.h>

#include <memory>

namespace dr::smtp {

Passwords::Passwords(std::map<std::string, std::string, std::less<>> hashes)
    : hashes_(std::move(hashes)), stand_in_(hashes_.empty() ? "" : hashes_.begin()->second) {}

bool Passwords::check(std::string_view user, std::string_view password) const {
    auto it = hashes_.find(user);
    if (it == hashes_.end()) {
        (void)crypt_matches(password, stand_in_);  // the same work as for a listed user
        return false;
    }
    return crypt_matches(password, it->second);
}

bool crypt_matches(std::string_view password, const std::string& hash) {
    // crypt_data is 32 KiB: on the heap, zeroed as crypt_rn wants it.
    auto data = std::make_unique<crypt_data>();
    std::string phrase(password);
    bool has_nul = phrase.find('\0') != std::string::npos;
    if (has_nul) phrase.clear();  // still hashed, so that the reply takes as long
    const char* out = crypt_rn(phrase.c_str(), hash.c_str(), data.get(), sizeof *data);
    if (!out || has_nul) return false;
    std::string_view got(out);
    return got.size() == hash.size() && CRYPTO_memcmp(got.data(), hash.data(), hash.size()) == 0;
}

}  // namespace dr::smtp
