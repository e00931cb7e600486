// Safe opening of append-only log files (see log_file.hpp).
#include "relay/log/log_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dr::relay {

namespace {

constexpr int kFlags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;

std::string reason(int err) {
    return err == ELOOP ? "is a symbolic link; name the file itself" : std::strerror(err);
}

}  // namespace

int open_log_file(const std::string& path, const std::optional<FileOwner>& owner,
                  const std::string& what, std::string& error) {
    bool created = true;
    int fd = ::open(path.c_str(), kFlags | O_CREAT | O_EXCL, 0640);
    if (fd < 0 && errno == EEXIST) {
        created = false;
        fd = ::open(path.c_str(), kFlags);
    }
    if (fd < 0) {
        error = "cannot open " + what + " " + path + ": " + reason(errno);
        return -1;
    }
    if (created && owner && ::fchown(fd, owner->uid, owner->gid) != 0) {
        error = "cannot give " + what + " " + path + " to its user: " + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace dr::relay
