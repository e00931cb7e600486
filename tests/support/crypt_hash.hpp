// Test helper shared by the AUTH tests (conf users file, smtp verifier): a fresh crypt(3) hash
// of a password, made here with libxcrypt so no test carries a hash it cannot explain.
#pragma once

#include <crypt.h>

#include <memory>
#include <string>

namespace dr::test {

// A fresh crypt(3) hash of `password` with the method `prefix` ("$y$", "$6$", "$2b$"), or
// "gensalt?" / "crypt?" when libxcrypt refuses (which the tests then see as a wrong hash).
inline std::string make_hash(const char* prefix, const std::string& password) {
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (!crypt_gensalt_rn(prefix, 0, nullptr, 0, setting, sizeof setting)) return "gensalt?";
    auto data = std::make_unique<crypt_data>();
    const char* out = crypt_rn(password.c_str(), setting, data.get(), sizeof *data);
    return out ? out : "crypt?";
}

}  // namespace dr::test
