// LD_PRELOAD shim for the lab tests of the queue manager's fault handling (fault_lab_test.py),
// built only with the tests. For files in the queue directory DR_FAULT_QUEUE: while the file
// $DR_FAULT_FLAGS/fail-fdatasync exists, fdatasync(2) fails with ENOSPC (journal appends fail,
// commits in incoming/ do not); while $DR_FAULT_FLAGS/fail-read exists, a read-only openat(2)
// fails with EMFILE (bodies cannot be read; recovery opens read-write and is not affected);
// while $DR_FAULT_FLAGS/hold-fdatasync exists, fdatasync(2) waits until it is removed, after
// creating $DR_FAULT_FLAGS/holding (a journal write held in flight, for clock_lab_test.py).
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

bool flag(const char* name) {
    const char* dir = std::getenv("DR_FAULT_FLAGS");
    return dir && ::access((std::string(dir) + "/" + name).c_str(), F_OK) == 0;
}

bool in_queue(const std::string& path) {
    const char* q = std::getenv("DR_FAULT_QUEUE");
    if (!q) return false;
    std::string prefix = std::string(q) + "/";
    return path.compare(0, prefix.size(), prefix) == 0;
}

std::string fd_path(int fd) {
    char link[64], buf[4096];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = ::readlink(link, buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

template <typename Fn>
Fn next(const char* name) {
    return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

void hold_while_flagged() {
    if (!flag("hold-fdatasync")) return;
    std::string holding = std::string(std::getenv("DR_FAULT_FLAGS")) + "/holding";
    if (int fd = ::open(holding.c_str(), O_WRONLY | O_CREAT, 0644); fd >= 0) ::close(fd);
    while (flag("hold-fdatasync")) ::usleep(10000);
}

}  // namespace

extern "C" int fdatasync(int fd) {
    static auto real = next<int (*)(int)>("fdatasync");
    if (in_queue(fd_path(fd))) hold_while_flagged();
    if (flag("fail-fdatasync") && in_queue(fd_path(fd))) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd);
}

extern "C" int openat(int dir, const char* name, int flags, ...) {
    static auto real = next<int (*)(int, const char*, int, ...)>("openat");
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = static_cast<mode_t>(va_arg(ap, int));
        va_end(ap);
    }
    if ((flags & O_ACCMODE) == O_RDONLY && flag("fail-read") && name[0] != '/') {
        std::string path = dir == AT_FDCWD ? std::string() : fd_path(dir);
        if (in_queue(path + "/" + name)) {
            errno = EMFILE;
            return -1;
        }
    }
    return real(dir, name, flags, mode);
}
