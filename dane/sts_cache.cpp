// See sts_cache.hpp.
#include "dane/sts_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "dane/dns.hpp"

namespace dr::dane {
namespace {

constexpr std::string_view kMagic = "dane-relay sts v1\n";
constexpr std::size_t kMaxFile = kStsMaxPolicyBytes + 256;

std::string errno_text(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

// "<key>: <value>\n" at the start of `in`, consumed; nullopt if it is not there.
std::optional<std::string_view> header(std::string_view& in, std::string_view key) {
    if (in.substr(0, key.size() + 2) != std::string(key) + ": ") return std::nullopt;
    auto end = in.find('\n');
    if (end == in.npos) return std::nullopt;
    auto value = in.substr(key.size() + 2, end - key.size() - 2);
    in.remove_prefix(end + 1);
    return value;
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// The whole file, at most kMaxFile bytes; nullopt when absent (no error) or unreadable.
std::optional<std::string> read_file(const std::string& path, std::string& error) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno != ENOENT) error = errno_text(path);
        return std::nullopt;
    }
    std::string data(kMaxFile + 1, '\0');
    std::size_t got = 0;
    while (got < data.size()) {
        ssize_t n = ::read(fd, data.data() + got, data.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) error = errno_text(path);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (error.empty() && got > kMaxFile)
        error = path + ": larger than " + std::to_string(kMaxFile) + " bytes";
    if (!error.empty()) return std::nullopt;
    data.resize(got);
    return data;
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
    auto data = read_file(path, l.error);
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
    if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) return errno_text(dir_);
    auto tmp = path + ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return errno_text(tmp);
    bool ok = write_all(fd, format(entry)) && ::fsync(fd) == 0;
    std::string error = ok ? "" : errno_text(tmp);
    if (::close(fd) != 0 && ok) error = errno_text(tmp);
    if (error.empty() && ::rename(tmp.c_str(), path.c_str()) != 0) error = errno_text(path);
    if (!error.empty()) {
        ::unlink(tmp.c_str());
        return error;
    }
    int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return errno_text(dir_);
    error = ::fsync(dfd) == 0 ? "" : errno_text(dir_);
    ::close(dfd);
    return error;
}

}  // namespace dr::dane
