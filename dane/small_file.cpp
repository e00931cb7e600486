// See small_file.hpp.
#include "dane/small_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace dr::dane {
namespace {

std::string errno_text(const std::string& what) {
    return what + ": " + std::strerror(errno);
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

std::string sync_dir(const std::string& dir) {
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return errno_text(dir);
    std::string error = ::fsync(dfd) == 0 ? "" : errno_text(dir);
    ::close(dfd);
    return error;
}

}  // namespace

std::optional<std::string> read_small_file(const std::string& path, std::size_t max,
                                           std::string& error) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno != ENOENT) error = errno_text(path);
        return std::nullopt;
    }
    // Read in pieces: the cap may be far larger than the file.
    std::string data;
    std::size_t got = 0;
    while (got <= max) {
        data.resize(std::min(max + 1, got + 64 * 1024));
        ssize_t n = ::read(fd, data.data() + got, data.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) error = errno_text(path);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (error.empty() && got > max)
        error = path + ": larger than " + std::to_string(max) + " bytes";
    if (!error.empty()) return std::nullopt;
    data.resize(got);
    return data;
}

std::string replace_file(const std::string& dir, const std::string& name, std::string_view data) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return errno_text(dir);
    const auto path = dir + "/" + name;
    const auto tmp = path + ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return errno_text(tmp);
    bool ok = write_all(fd, data) && ::fsync(fd) == 0;
    std::string error = ok ? "" : errno_text(tmp);
    if (::close(fd) != 0 && ok) error = errno_text(tmp);
    if (error.empty() && ::rename(tmp.c_str(), path.c_str()) != 0) error = errno_text(path);
    if (!error.empty()) {
        ::unlink(tmp.c_str());
        return error;
    }
    return sync_dir(dir);
}

}  // namespace dr::dane
