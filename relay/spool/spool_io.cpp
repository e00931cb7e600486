// The spool's system calls with a fault hook (see spool_io.hpp).
#include "relay/spool/spool_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>  // renameat2

namespace dr::relay {

const char* to_string(SpoolCall c) {
    switch (c) {
        case SpoolCall::openat:
            return "openat";
        case SpoolCall::write:
            return "write";
        case SpoolCall::pwrite:
            return "pwrite";
        case SpoolCall::pread:
            return "pread";
        case SpoolCall::fstat:
            return "fstat";
        case SpoolCall::fdatasync:
            return "fdatasync";
        case SpoolCall::fsync:
            return "fsync";
        case SpoolCall::close:
            return "close";
        case SpoolCall::rename:
            return "rename";
        case SpoolCall::unlink:
            return "unlink";
        case SpoolCall::ftruncate:
            return "ftruncate";
        case SpoolCall::fstatvfs:
            return "fstatvfs";
    }
    return "?";
}

SpoolIo& SpoolIo::real() {
    static SpoolIo io;
    return io;
}

bool SpoolIo::fails(SpoolCall c) {
    int e = inject(c);
    if (e == 0) return false;
    errno = e;
    return true;
}

int SpoolIo::openat(int dir, const char* name, int flags, mode_t mode) {
    return fails(SpoolCall::openat) ? -1 : ::openat(dir, name, flags, mode);
}
ssize_t SpoolIo::write(int fd, const void* buf, std::size_t n) {
    return fails(SpoolCall::write) ? -1 : ::write(fd, buf, n);
}
ssize_t SpoolIo::pwrite(int fd, const void* buf, std::size_t n, off_t off) {
    return fails(SpoolCall::pwrite) ? -1 : ::pwrite(fd, buf, n, off);
}
ssize_t SpoolIo::pread(int fd, void* buf, std::size_t n, off_t off) {
    return fails(SpoolCall::pread) ? -1 : ::pread(fd, buf, n, off);
}
int SpoolIo::fstat(int fd, struct stat* st) {
    return fails(SpoolCall::fstat) ? -1 : ::fstat(fd, st);
}
int SpoolIo::fdatasync(int fd) {
    return fails(SpoolCall::fdatasync) ? -1 : ::fdatasync(fd);
}
int SpoolIo::fsync(int fd) {
    return fails(SpoolCall::fsync) ? -1 : ::fsync(fd);
}
// A failed close still releases the descriptor (close(2)), so the injected one does too.
int SpoolIo::close(int fd) {
    if (!fails(SpoolCall::close)) return ::close(fd);
    int e = errno;
    ::close(fd);
    errno = e;
    return -1;
}
int SpoolIo::renameat2(int from_dir, const char* from, int to_dir, const char* to, unsigned flags) {
    return fails(SpoolCall::rename) ? -1 : ::renameat2(from_dir, from, to_dir, to, flags);
}
int SpoolIo::unlinkat(int dir, const char* name, int flags) {
    return fails(SpoolCall::unlink) ? -1 : ::unlinkat(dir, name, flags);
}
int SpoolIo::ftruncate(int fd, off_t len) {
    return fails(SpoolCall::ftruncate) ? -1 : ::ftruncate(fd, len);
}
int SpoolIo::fstatvfs(int fd, struct statvfs* vfs) {
    return fails(SpoolCall::fstatvfs) ? -1 : ::fstatvfs(fd, vfs);
}

}  // namespace dr::relay
