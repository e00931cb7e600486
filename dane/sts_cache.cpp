// See sts_cache.hpp.
#include "dane/sts_cache.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "dane/dns.hpp"
#include "dane/small_file.hpp"

namespace dr::dane {
namespace {

constexpr std::string_view kMagic = "dane-relay sts v1\n";
constexpr std::size_t kMaxFile = kStsMaxPolicyBytes + 256;

// "<key>: <value>\n" at the start of `in`, consumed; nullopt if it is not there.
std::optional<std::string_view> header(std::string_view& in, std::string_view key) {
    if (in.substr(0, key.size() + 2) != std::string(key) + ": ") return std::nullopt;
    auto end = in.find('\n');
    if (end == in.npos) return std::nullopt;
    auto value = in.substr(key.size() + 2, end - key.size() - 2);
    in.remove_prefix(end + 1);
    return value;
}

}  // namespace

std::string StsCache::format(const StsCached& e) {
    return std::string(kMagic) + "id: " + e.id + "\nfetched: " + std::to_string(e.fetched) +
           "\n\n" + e.text;
}

Parsed<StsCached> StsCache::parse(std::string_view in) {
    Parsed<StsCached> r;
    if (in.substr(0, kMagic.size()) != kMagic) {
        r.error = "not a dane-relay STS cache file";
        return r;
    }
    in.remove_prefix(kMagic.size());
    auto id = header(in, "id");
    auto fetched = header(in, "fetched");
    std::int64_t at = -1;
    if (fetched) std::from_chars(fetched->data(), fetched->data() + fetched->size(), at);
    if (!id || id->empty() || id->size() > 32 || !std::all_of(id->begin(), id->end(), ::isalnum))
        r.error = "no valid id line";
    else if (at < 0)
        r.error = "no valid fetched line";
    else if (in.substr(0, 1) != "\n")
        r.error = "no empty line before the policy";
    if (!r.error.empty()) return r;
    in.remove_prefix(1);
    auto policy = parse_sts_policy(in);
    if (!policy) {
        r.error = "the cached policy: " + policy.error;
        return r;
    }
    r.value = StsCached{std::string(*id), at, std::move(*policy.value), std::string(in)};
    return r;
}

std::string StsCache::path_of(const std::string& domain) const {
    if (domain_name_error(domain)) return "";
    return dir_ + "/" + normalize_name(domain);
}

StsCache::Loaded StsCache::load(const std::string& domain) const {
    Loaded l;
    auto path = path_of(domain);
    if (path.empty()) {
        l.error = "not a domain name: " + domain;
        return l;
    }
    auto data = read_small_file(path, kMaxFile, l.error);
    if (!data) return l;
    auto p = parse(*data);
    if (p)
        l.entry = std::move(*p.value);
    else
        l.error = path + ": " + p.error;
    return l;
}

std::string StsCache::store(const std::string& domain, const StsCached& entry) const {
    auto path = path_of(domain);
    if (path.empty()) return "not a domain name: " + domain;
    return replace_file(dir_, normalize_name(domain), format(entry));
}

}  // namespace dr::dane
