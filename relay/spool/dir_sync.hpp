// Group commit for directory fsyncs: every thread that renamed or unlinked an entry calls sync();
// threads arriving while an fsync runs join the next batch, whose single fsync covers them all.
// Entry point: DirSyncer::sync(). An fsync error is returned to every member of its batch.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <system_error>

#include "relay/spool/spool_io.hpp"

namespace dr::relay {

class DirSyncer {
  public:
    explicit DirSyncer(int dir_fd, SpoolIo& io = SpoolIo::real()) : dir_fd_(dir_fd), io_(io) {}
    // Returns once an fsync of the directory that started after this call has completed.
    std::error_code sync();
    std::uint64_t fsync_count() const;

  private:
    struct Batch {
        bool done = false;
        std::error_code ec;
    };
    int dir_fd_;
    SpoolIo& io_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::shared_ptr<Batch> open_;  // collecting members, not started yet
    bool syncing_ = false;
    std::uint64_t fsyncs_ = 0;
};

}  // namespace dr::relay
