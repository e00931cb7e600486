// Leader/follower group commit of directory fsyncs (see dir_sync.hpp).
#include "relay/spool/dir_sync.hpp"

#include <unistd.h>

#include <cerrno>

namespace dr::relay {

std::error_code DirSyncer::sync() {
    std::unique_lock lock(mu_);
    if (!open_) open_ = std::make_shared<Batch>();
    auto mine = open_;
    while (!mine->done) {
        if (syncing_) {
            cv_.wait(lock);
            continue;
        }
        // No fsync running and our batch not done: our batch is still the open one, so we
        // lead it. Closing it first makes later arrivals wait for the next fsync, which is
        // what they need: this fsync may have started before their rename.
        syncing_ = true;
        open_.reset();
        lock.unlock();
        std::error_code ec;
        if (io_.fsync(dir_fd_) != 0) ec = {errno, std::generic_category()};
        lock.lock();
        ++fsyncs_;
        mine->ec = ec;
        mine->done = true;
        syncing_ = false;
        cv_.notify_all();
    }
    return mine->ec;
}

std::uint64_t DirSyncer::fsync_count() const {
    std::lock_guard lock(mu_);
    return fsyncs_;
}

}  // namespace dr::relay
