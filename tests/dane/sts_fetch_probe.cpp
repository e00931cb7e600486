// Test driver for fetch_sts_policy() (dane/sts_fetch.hpp), run by sts_fetch_test.py:
//   sts_fetch_probe DOMAIN CA_FILE ADDRESS PORT [TIMEOUT_MS]
// prints "kind: body|fetch_error|webpki_error", then "why: ..." or the policy as
// sts_after_fetch() reads it ("policy: MODE MAX_AGE MX..." or "invalid: ..."), one per line.
#include <chrono>
#include <cstdio>
#include <string>

#include "dane/sts_fetch.hpp"

int main(int argc, char** argv) {
    using namespace dr::dane;
    if (argc < 5) {
        std::fprintf(stderr, "usage: sts_fetch_probe DOMAIN CA_FILE ADDRESS PORT [TIMEOUT_MS]\n");
        return 2;
    }
    StsFetchOptions o;
    o.ca_file = argv[2];
    o.addresses = {argv[3]};
    o.port = static_cast<unsigned>(std::stoul(argv[4]));
    if (argc > 5) o.timeout = std::chrono::milliseconds(std::stol(argv[5]));
    StsFetch f = fetch_sts_policy(argv[1], o);
    const char* kinds[] = {"body", "fetch_error", "webpki_error"};
    std::printf("kind: %s\n", kinds[static_cast<int>(f.kind)]);
    if (f.kind != StsFetch::Kind::body) {
        std::printf("why: %s\n", f.why.c_str());
        return 0;
    }
    auto p = parse_sts_policy(f.body);
    if (!p) {
        std::printf("invalid: %s\n", p.error.c_str());
        return 0;
    }
    std::printf("policy: %s %u", to_string(p.value->mode), p.value->max_age);
    for (const auto& mx : p.value->mx) std::printf(" %s", mx.c_str());
    std::printf("\n");
    return 0;
}
