// The wall clock as Unix time, for what is stored or shown (queue files, TLSRPT days,
// MTA-STS expiry): whole seconds or microseconds since 1970-01-01 UTC. Timers use
// steady_clock instead. Entry points: unix_seconds(), unix_micros().
#pragma once

#include <chrono>
#include <cstdint>

namespace dr::relay {

inline std::int64_t unix_micros() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

inline std::int64_t unix_seconds() {
    return unix_micros() / 1'000'000;
}

}  // namespace dr::relay
