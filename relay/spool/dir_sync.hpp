// Group commit for directory fsyncs: every thread that renamed or unlinked an entry calls sync();
// threads arriving while an fsync runs join the next batch, whose single fsync covers them all.
// Entry point: DirSyncer::sync(). An fsync error is returned to every member of its batch.
// A change may also be noted and synced later (note_change(), then sync_if_pending()): any
// fsync that starts after the note covers it, so under load the later sync finds nothing to do.
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
    // A rename or unlink made, whose fsync may wait (see above).
    void note_change();
    bool pending() const;
    // sync() when a noted change is not yet covered by a completed fsync.
    std::error_code sync_if_pending();

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
    std::uint64_t changes_ = 0;  // noted changes so far
    std::uint64_t synced_ = 0;   // the noted changes that a completed fsync covers
};

}  // namespace dr::relay
