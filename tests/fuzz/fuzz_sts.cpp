// libFuzzer target: the MTA-STS policy file, the _mta-sts and _smtp._tls TXT records and
// the MX pattern match (dane/sts) must never crash, hang or read out of bounds, whatever
// a policy host or DNS sends; a policy that parses must hold only what it allows.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dane/sts.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace dr::dane;
    std::string_view in(reinterpret_cast<const char*>(data), size);
    if (auto p = parse_sts_policy(in)) {
        if (p.value->max_age > kStsMaxAge) std::abort();
        if (p.value->mode != StsMode::none && p.value->mx.empty()) std::abort();
        for (const auto& mx : p.value->mx) (void)sts_mx_matches(mx, in.substr(0, 300));
    }
    (void)choose_sts_record({std::string(in)});
    (void)choose_tlsrpt_record({std::string(in), "v=TLSRPTv1; rua=mailto:a@b.test"});
    auto nl = in.find('\n');  // "pattern\nhost"
    if (nl != in.npos) (void)sts_mx_matches(in.substr(0, nl), in.substr(nl + 1));
    return 0;
}
