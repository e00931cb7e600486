// Leader/follower group commit of directory fsyncs (see dir_sync.hpp).
#include "relay/spool/dir_sync.hpp"

#include <unistd.h>

#include <algorithm>
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
        const auto covered = changes_;
        lock.unlock();
        std::error_code ec;
        if (io_.fsync(dir_fd_) != 0) ec = {errno, std::generic_category()};
        lock.lock();
        ++fsyncs_;
        if (!ec) synced_ = std::max(synced_, covered);
        mine->ec = ec;
        mine->done = true;
        syncing_ = false;
        cv_.notify_all();
    }
    return mine->ec;
}

void DirSyncer::note_change() {
    std::lock_guard lock(mu_);
    ++changes_;
}

bool DirSyncer::pending() const {
    std::lock_guard lock(mu_);
    return synced_ < changes_;
}

std::error_code DirSyncer::sync_if_pending() {
    return pending() ? sync() : std::error_code();
}

std::uint64_t DirSyncer::fsync_count() const {
    std::lock_guard lock(mu_);
    return fsyncs_;
}

}  // namespace dr::relay
