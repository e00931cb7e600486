// libFuzzer target: DNS RDATA and answer-message decoding (dane/dns_wire) and domain-name
// validation must never crash or read out of bounds, whatever DNS returns.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "dane/dns.hpp"
#include "dane/dns_wire.hpp"
#include "dane/sts.hpp"
#include "dane/tlsa.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::span<const std::uint8_t> in(data, size);
    using namespace dr::dane;
    if (auto mx = wire::decode_mx(in)) (void)domain_name_error(mx->host);
    (void)wire::decode_a(in);
    (void)wire::decode_aaaa(in);
    if (auto t = wire::decode_tlsa(in)) (void)tlsa_usability(*t);
    if (auto txt = wire::decode_txt(in)) (void)choose_sts_record({*txt});
    (void)wire::rrsig_expiration(in, 52);  // a whole answer message, as libunbound gives it
    (void)domain_name_error(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
