// Helpers for the spool tests: a temporary directory removed afterwards, sample envelopes, and
// raw access to queue files for damaging them on purpose.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "relay/spool/spool.hpp"

namespace dr::relay::testing {

// A fresh directory under `base` (default: the system temp dir, i.e. the local disk).
class TempDir {
  public:
    explicit TempDir(const std::string& base = std::filesystem::temp_directory_path().string()) {
        std::string tmpl = base + "/spooltest.XXXXXX";
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

inline QueuedEnvelope sample_envelope(int nrcpt = 2) {
    QueuedEnvelope env;
    env.sender = "sender@example.org";
    env.envid = "QQ314159";
    env.ret = "HDRS";
    env.smtputf8 = true;
    env.body = dr::smtp::BodyType::eight_bit_mime;
    env.client_name = "localhost";
    env.client_addr = "127.0.0.1";
    env.helo = "mta.example.org";
    for (int i = 0; i < nrcpt; ++i) {
        std::string a = "user" + std::to_string(i) + "@example.net";
        env.recipients.push_back(
            {.address = a, .notify = i % 2 ? "NEVER" : "SUCCESS,FAILURE", .orcpt = "rfc822;" + a});
    }
    return env;
}

inline std::unique_ptr<Spool> open_spool(const std::string& dir, std::uint64_t reserve = 0) {
    std::error_code ec;
    auto s = Spool::open({dir, reserve}, ec);
    EXPECT_FALSE(ec) << ec.message();
    return s;
}

inline std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

inline void write_file(const std::filesystem::path& p, const std::string& data) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << data;
}

inline std::size_t count_files(const std::filesystem::path& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
    return n;
}

inline RcptState deferred(std::uint32_t attempts, std::string reason) {
    RcptState s;
    s.status = RcptStatus::deferred;
    s.attempts = attempts;
    s.next_attempt_us = 1'700'000'000'000'000LL + attempts;
    s.dsn = "4.7.5";
    s.reason = std::move(reason);
    return s;
}

inline RcptState delivered(std::uint32_t attempts) {
    RcptState s;
    s.status = RcptStatus::delivered;
    s.attempts = attempts;
    s.dsn = "2.0.0";
    s.reason = "250 2.0.0 Ok";
    return s;
}

}  // namespace dr::relay::testing
