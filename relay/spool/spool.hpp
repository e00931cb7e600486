// The durable spool (SPEC §4, relay/spool/SPOOL.md): one file per message in queue/, committed by
// write to incoming/, fsync, rename, fsync of the directory; per-recipient state in a checksummed
// append-only journal at the end of the same file. Entry points: Spool::open (recovery scan),
// begin/commit, update, mark_notice, hold/release, remove, move_to_corrupt, get, list, summaries,
// read_body. Errors are values: any error from commit means the message was not accepted (452
// 4.3.1 upstream) and nothing of it is left. In memory the index keeps per message only what
// scheduling needs (SPOOL.md "Memory"); whole envelopes are cached for at most cache_limit
// messages and otherwise reread from the file.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "relay/spool/format.hpp"
#include "relay/spool/queue_id.hpp"
#include "relay/spool/spool_io.hpp"
#include "relay/spool/types.hpp"

namespace dr::relay {

struct SpoolOptions {
    std::string dir;
    // New messages are refused (SpoolErrc::low_space) while less than this is free, so that the
    // status journals of queued mail can still grow on a nearly full disk (as OpenSMTPD's
    // fsqueue_check_space keeps headroom).
    // Bounce notices may use this reserve (Reserve::may_use); new inbound mail may not.
    std::uint64_t min_free_bytes = 16 * 1024 * 1024;
    // The system calls (tests inject faults here); nullptr: SpoolIo::real().
    SpoolIo* io = nullptr;
    // Messages whose whole MessageInfo is kept in memory (the most recently used); get() reads
    // the others from their files. Postfix's qmgr likewise holds an active-queue limit.
    std::size_t cache_limit = 10000;
};

// What the scheduler needs of a queued message at start-up, without its envelope.
struct QueueSummary {
    std::string id;
    bool held = false;
    bool done = false;  // every recipient delivered or bounced
    // The earliest next attempt (µs since the epoch) of the recipients still to deliver; 0 when
    // one of them is pending (never tried).
    std::int64_t next_attempt_us = 0;
};

// Whether a commit may eat into min_free_bytes: only the notices the relay owes senders may.
enum class Reserve { keep, may_use };

// What open() found and repaired.
struct RecoveryReport {
    std::size_t messages = 0;          // messages in the queue after recovery
    std::size_t incoming_removed = 0;  // uncommitted leftovers deleted from incoming/
    std::size_t torn_journals = 0;     // files whose torn last journal record was cut off
    std::vector<std::string> torn;     // their IDs
    std::vector<std::string> corrupt;  // IDs moved to corrupt/ (unreadable envelope)
};

class DirSyncer;
class Spool;

// A message being received: the body is streamed straight into incoming/<ID>, a file made
// with the first write to disk (Spool::begin makes it at once, begin_deferred on the pool
// with the first flush or the commit). Destroying a writer that was not committed deletes
// the file. Errors are sticky and reported by commit().
class SpoolWriter {
  public:
    ~SpoolWriter();
    SpoolWriter(const SpoolWriter&) = delete;
    SpoolWriter& operator=(const SpoolWriter&) = delete;

    const std::string& id() const { return id_; }
    std::uint64_t size() const { return size_; }
    std::error_code write(std::string_view chunk);

  private:
    friend class Spool;
    SpoolWriter(SpoolIo& io, int incoming_fd, std::string id);
    std::error_code create();  // incoming/<ID>, O_EXCL; the error sticks
    std::error_code flush();
    // version_2: the envelope has version 2 keys (format.hpp), so the magic says 2.
    std::error_code finish(std::string_view envelope_record, bool version_2);
    void abandon();

    SpoolIo& io_;
    int incoming_fd_;
    int fd_ = -1;
    bool created_ = false;  // incoming/<ID> was made (abandon() deletes it)
    std::string id_;
    std::string buf_;
    std::uint64_t size_ = 0;
    std::uint32_t crc_ = 0;
    std::error_code error_;
};

// A queue file opened to read its body in pieces (SpoolBodySource streams it to the socket):
// read() gives ranges of the body, check() the CRC over everything read in order. Blocking
// calls: use it off the event loop (AsyncSpool::async_call). Holds one descriptor.
class BodyReader {
  public:
    ~BodyReader();
    BodyReader(const BodyReader&) = delete;
    BodyReader& operator=(const BodyReader&) = delete;

    std::uint64_t size() const { return size_; }  // body octets, from its record header
    std::uint64_t position() const { return pos_; }
    // The next up to `n` octets of the body into `out` (resized; empty at the end). An errno
    // code when read(2) fails, SpoolErrc::corrupt when the file ends inside the body.
    std::error_code read(std::size_t n, std::string& out);
    // After the whole body was read: its CRC and the '\n' after it (SpoolErrc::corrupt).
    std::error_code check();

  private:
    friend class Spool;
    BodyReader(SpoolIo& io, int fd, std::uint64_t size, std::uint32_t crc)
        : io_(io), fd_(fd), size_(size), crc_(crc) {}
    SpoolIo& io_;
    int fd_;
    std::uint64_t size_;
    std::uint32_t crc_;       // as recorded
    std::uint32_t seen_ = 0;  // of the bytes read so far
    std::uint64_t pos_ = 0;
};

struct CommitResult {
    std::error_code ec;
    std::string id;  // valid when !ec
};

class Spool {
  public:
    // Creates the directories if needed, locks the spool (one process at a time), deletes
    // incoming/ leftovers and loads queue/. Fails with SpoolErrc::locked or an errno code.
    static std::unique_ptr<Spool> open(const SpoolOptions& opt, std::error_code& ec);
    ~Spool();
    Spool(const Spool&) = delete;
    Spool& operator=(const Spool&) = delete;

    const RecoveryReport& recovery() const { return recovery_; }
    const std::string& dir() const { return opt_.dir; }
    // Directory fsyncs done so far; fewer than commits when group commit shares them.
    std::uint64_t dir_fsyncs() const;

    // Receiving. All thread-safe; concurrent commits share directory fsyncs (group commit).
    std::unique_ptr<SpoolWriter> begin(std::error_code& ec, Reserve reserve = Reserve::keep);
    // The same without touching incoming/ (an ID and the free-space check, fstatvfs): the
    // file is made on the pool by the writer's first flush or its commit, so a session's
    // loop can start a message without a trip to the pool. An ID whose name is taken in
    // incoming/ (a leftover) then fails that message (sticky error), it is not renamed.
    std::unique_ptr<SpoolWriter> begin_deferred(std::error_code& ec,
                                                Reserve reserve = Reserve::keep);
    CommitResult commit(std::unique_ptr<SpoolWriter> writer, QueuedEnvelope env);
    CommitResult commit(QueuedEnvelope env, std::string_view body, Reserve reserve = Reserve::keep);

    // Recipient state changes, durable (fdatasync) when this returns no error.
    // A failed update changes nothing: neither memory nor (after recovery) the file.
    std::error_code update(std::string_view id, const std::vector<StatusUpdate>& updates);
    // Records that the bounce notice for this message is queued as `notice` (its queue ID),
    // or, with an empty `notice`, that its sender gets none. Durable when no error.
    std::error_code mark_notice(std::string_view id, std::string_view notice);
    // Records that the delay notice for this message was queued as `notice`, or (empty) that
    // its sender gets none (journal record D). Durable when no error.
    std::error_code mark_delay_notice(std::string_view id, std::string_view notice);
    std::error_code hold(std::string_view id) { return set_held(id, true); }
    std::error_code release(std::string_view id) { return set_held(id, false); }
    // Deletes the message (admin delete, or after its last recipient is final). With
    // Sync::later the unlink is durable only after sync_removals() or the next commit's
    // fsync of queue/ (group commit: under load, that fsync is made anyway).
    enum class Sync { now, later };
    std::error_code remove(std::string_view id, Sync sync = Sync::now);
    // Makes the removals made with Sync::later durable, when no fsync has covered them yet.
    std::error_code sync_removals();
    // Moves a message whose body is damaged to corrupt/ (out of the queue, kept for the
    // operator). Fails, leaving it queued, only when the rename fails.
    std::error_code move_to_corrupt(std::string_view id);

    // The message as on disk (from the cache, or read from its file). nullopt when it is not
    // queued, or, with `ec` set, when its file cannot be read (EMFILE, EIO, …).
    std::optional<MessageInfo> get(std::string_view id, std::error_code& ec) const;
    std::optional<MessageInfo> get(std::string_view id) const;
    std::vector<MessageInfo> list() const;  // sorted by ID, i.e. by arrival
    // Up to `max` messages with IDs after `after` ("" = from the start), sorted: a listing in
    // pages, so that a large queue is never all in memory at once.
    std::vector<MessageInfo> list(std::string_view after, std::size_t max) const;
    std::vector<QueueSummary> summaries(std::string_view after, std::size_t max) const;
    std::size_t size() const;
    std::error_code read_body(std::string_view id, std::string& out) const;
    // Opens the body for reading in pieces; errors as read_body's (a bad body header is
    // SpoolErrc::corrupt; the CRC is known only once all of it was read: BodyReader::check).
    std::unique_ptr<BodyReader> open_body(std::string_view id, std::error_code& ec) const;

  private:
    struct Entry;
    struct Cache;
    explicit Spool(SpoolOptions opt);
    std::error_code init();
    void recover_incoming();
    std::error_code recover_queue();
    std::error_code load_one(const std::string& id);
    void quarantine(const std::string& id);
    bool rename_to_corrupt(const std::string& id, std::error_code& ec);
    std::error_code sync_queue_dir();
    std::error_code check_space() const;
    std::mutex& stripe(const QueueKey& key) const;
    Entry* find(const QueueKey& key) const;
    std::optional<MessageInfo> fetch(std::string_view id, std::error_code& ec, bool keep) const;
    std::optional<MessageInfo> read_info(const std::string& id, const Entry& e,
                                         std::error_code& ec) const;
    std::error_code append(const std::string& id, Entry& e, RecordType type,
                           std::string_view payload);
    void undo_append(int fd, std::uint64_t good_end);
    std::error_code set_held(std::string_view id, bool held);
    std::error_code mark(std::string_view id, RecordType type, std::string_view notice);

    SpoolOptions opt_;
    SpoolIo& io_;
    int dir_fd_ = -1;
    int lock_fd_ = -1;
    int incoming_fd_ = -1;
    int queue_fd_ = -1;
    int corrupt_fd_ = -1;
    std::unique_ptr<DirSyncer> queue_sync_;
    std::atomic<bool> dir_unsynced_{false};  // a failed fsync of queue/ still to be made up
    QueueIdGenerator ids_;
    RecoveryReport recovery_;
    // Locking: an operation on a message holds its stripe for the whole operation (the entry
    // cannot be erased meanwhile); mu_ guards the index's shape and the entries' scheduling
    // fields, briefly; cache_mu_ the cache. Order: stripe, then mu_ or cache_mu_. A read that
    // the cache answers takes cache_mu_ alone (the cache holds only durable states).
    mutable std::array<std::mutex, 64> stripes_;
    mutable std::mutex mu_;
    std::map<QueueKey, Entry> index_;
    mutable std::mutex cache_mu_;
    std::unique_ptr<Cache> cache_;
};

}  // namespace dr::relay
