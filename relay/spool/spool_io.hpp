// The system calls the spool makes, behind one class so that a test can fail any one of them
// (tests/relay/spool_fault_test.cpp fails the Nth call with ENOSPC, EIO or EMFILE). Each method
// has the call's arguments and its errno convention; before calling the kernel it asks
// inject(), which returns 0 (go on) or the errno to fail with. Entry points: SpoolIo,
// SpoolIo::real() (the default, which injects nothing).
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include <cstddef>

namespace dr::relay {

enum class SpoolCall {
    openat,
    write,
    pwrite,
    pread,
    fstat,
    fdatasync,
    fsync,
    close,
    rename,
    unlink,
    ftruncate,
    fstatvfs,
};
const char* to_string(SpoolCall c);

class SpoolIo {
  public:
    virtual ~SpoolIo() = default;
    static SpoolIo& real();

    int openat(int dir, const char* name, int flags, mode_t mode = 0);
    ssize_t write(int fd, const void* buf, std::size_t n);
    ssize_t pwrite(int fd, const void* buf, std::size_t n, off_t off);
    ssize_t pread(int fd, void* buf, std::size_t n, off_t off);
    int fstat(int fd, struct stat* st);
    int fdatasync(int fd);
    int fsync(int fd);
    int close(int fd);
    int renameat2(int from_dir, const char* from, int to_dir, const char* to, unsigned flags);
    int unlinkat(int dir, const char* name, int flags);
    int ftruncate(int fd, off_t len);
    int fstatvfs(int fd, struct statvfs* vfs);

  protected:
    // 0 lets the call run; an errno value makes it fail with that errno instead.
    virtual int inject(SpoolCall) { return 0; }

  private:
    bool fails(SpoolCall c);
};

}  // namespace dr::relay
