// The durable spool: commit protocol, status journal, recovery scan (see spool.hpp, SPOOL.md).
#include "relay/spool/spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <list>
#include <thread>
#include <unordered_map>
#include <utility>

#include "relay/spool/dir_sync.hpp"
#include "relay/spool/format.hpp"
#include "relay/spool/unix_time.hpp"

namespace dr::relay {

// One queued message in the index: what scheduling needs, not the envelope (SPOOL.md "Memory").
struct Spool::Entry {
    struct Rcpt {
        std::int64_t next_attempt_us = 0;
        RcptStatus status = RcptStatus::pending;
    };
    std::uint64_t good_end = 0;  // end of the last valid record: where the next one goes
    std::uint64_t body_size = 0;
    std::vector<Rcpt> rcpts;
    bool held = false;

    void set(const MessageInfo& info) {
        rcpts.resize(info.rcpts.size());
        for (std::size_t i = 0; i < rcpts.size(); ++i)
            rcpts[i] = {info.rcpts[i].next_attempt_us, info.rcpts[i].status};
        held = info.held;
    }
};

// The whole MessageInfo of the most recently used messages (guarded by cache_mu_).
struct Spool::Cache {
    std::size_t limit = 0;
    std::list<QueueKey> lru;  // front: most recently used
    struct Slot {
        MessageInfo info;
        std::list<QueueKey>::iterator pos;
    };
    std::unordered_map<QueueKey, Slot, QueueKeyHash> slots;

    std::optional<MessageInfo> find(const QueueKey& k) {
        auto it = slots.find(k);
        if (it == slots.end()) return std::nullopt;
        lru.splice(lru.begin(), lru, it->second.pos);
        return it->second.info;
    }
    void put(const QueueKey& k, MessageInfo info) {
        if (limit == 0) return;
        if (auto it = slots.find(k); it != slots.end()) {
            it->second.info = std::move(info);
            lru.splice(lru.begin(), lru, it->second.pos);
            return;
        }
        if (slots.size() >= limit) {
            slots.erase(lru.back());
            lru.pop_back();
        }
        lru.push_front(k);
        slots.emplace(k, Slot{std::move(info), lru.begin()});
    }
    MessageInfo* peek(const QueueKey& k) {
        auto it = slots.find(k);
        return it == slots.end() ? nullptr : &it->second.info;
    }
    void drop(const QueueKey& k) {
        auto it = slots.find(k);
        if (it == slots.end()) return;
        lru.erase(it->second.pos);
        slots.erase(it);
    }
};

namespace {

constexpr std::uint64_t kBodyOffset = kSpoolMagic.size() + kRecordHeaderSize;
constexpr std::size_t kWriteBuffer = 64 * 1024;
constexpr std::size_t kReadChunk = 1024 * 1024;

std::error_code errno_ec() {
    return {errno, std::generic_category()};
}

std::error_code write_all(SpoolIo& io, int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = io.write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno_ec();
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

std::error_code pwrite_all(SpoolIo& io, int fd, std::string_view data, std::uint64_t off) {
    while (!data.empty()) {
        ssize_t n = io.pwrite(fd, data.data(), data.size(), static_cast<off_t>(off));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno_ec();
        data.remove_prefix(static_cast<std::size_t>(n));
        off += static_cast<std::uint64_t>(n);
    }
    return {};
}

// Reads ranges of one file. A range beyond the end is "not there" (a torn or damaged file),
// checked before allocating, so a garbage length cannot exhaust memory; a failing read(2) is
// kept apart in io_error because it says nothing about the file's contents.
// A file up to `whole_up_to` bytes is read in one pread (a small queue file: recovery of a
// million of them is then one read each, not five).
class Reader {
  public:
    Reader(SpoolIo& io, int fd, std::uint64_t whole_up_to = 0) : io_(io), fd_(fd) {
        struct stat st {};
        if (io_.fstat(fd, &st) != 0) io_error = errno_ec();
        size = static_cast<std::uint64_t>(st.st_size);
        if (!io_error && size <= whole_up_to && read(0, size, whole_)) whole_ok_ = true;
    }
    bool read(std::uint64_t off, std::uint64_t n, std::string& out) {
        if (io_error || off > size || n > size - off) return false;
        if (whole_ok_) {
            out.assign(whole_, off, n);
            return true;
        }
        out.resize(n);
        std::size_t got = 0;
        while (got < n) {
            ssize_t r = io_.pread(fd_, out.data() + got, n - got, static_cast<off_t>(off + got));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) io_error = errno_ec();
            if (r <= 0) return false;
            got += static_cast<std::size_t>(r);
        }
        return true;
    }
    std::uint64_t size = 0;
    std::error_code io_error;

  private:
    SpoolIo& io_;
    int fd_;
    std::string whole_;
    bool whole_ok_ = false;
};

constexpr std::uint64_t kReadWhole = 16 * 1024;
constexpr std::size_t kParallelRecovery = 10000;  // queue files from which recovery is parallel
constexpr std::size_t kRecoveryThreads = 8;

int open_subdir(int parent, const char* name, std::error_code& ec) {
    if (::mkdirat(parent, name, 0700) != 0 && errno != EEXIST) {
        ec = errno_ec();
        return -1;
    }
    int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) ec = errno_ec();
    return fd;
}

std::vector<std::string> list_dir(int dir_fd) {
    std::vector<std::string> names;
    int fd = ::dup(dir_fd);
    if (fd < 0) return names;
    DIR* d = ::fdopendir(fd);
    if (!d) {
        ::close(fd);
        return names;
    }
    ::rewinddir(d);
    while (auto* ent = ::readdir(d)) {
        std::string_view n = ent->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

// rename(2) that never replaces an existing queue file; falls back to plain rename on file
// systems without RENAME_NOREPLACE (the in-memory index already excluded collisions).
std::error_code rename_noreplace(SpoolIo& io, int from_dir, const std::string& from, int to_dir,
                                 const std::string& to) {
    if (io.renameat2(from_dir, from.c_str(), to_dir, to.c_str(), RENAME_NOREPLACE) == 0) return {};
    if (errno != EINVAL) return errno_ec();
    if (io.renameat2(from_dir, from.c_str(), to_dir, to.c_str(), 0) == 0) return {};
    return errno_ec();
}

// The parts of a queue file that recovery reads (everything except the body bytes).
struct ParsedFile {
    QueuedEnvelope env;
    std::uint64_t body_size = 0;
    std::uint64_t journal_start = 0;
};

std::optional<ParsedFile> parse_head(Reader& in) {
    std::string head;
    if (!in.read(0, kBodyOffset, head)) return std::nullopt;
    if (!is_spool_magic(std::string_view(head).substr(0, kSpoolMagic.size()))) return std::nullopt;
    auto b = parse_record_header(std::string_view(head).substr(kSpoolMagic.size()));
    if (!b || b->type != RecordType::body) return std::nullopt;
    std::string buf;
    std::uint64_t off = kBodyOffset + b->length;
    if (!in.read(off, 1, buf) || buf != "\n") return std::nullopt;
    off += 1;
    if (!in.read(off, kRecordHeaderSize, buf)) return std::nullopt;
    auto e = parse_record_header(buf);
    if (!e || e->type != RecordType::envelope) return std::nullopt;
    off += kRecordHeaderSize;
    if (!in.read(off, e->length + kRecordTrailerSize, buf)) return std::nullopt;
    if (!record_payload_ok(*e, buf)) return std::nullopt;
    auto env = decode_envelope(std::string_view(buf).substr(0, e->length));
    if (!env) return std::nullopt;
    return ParsedFile{std::move(*env), b->length, off + e->length + kRecordTrailerSize};
}

// Applies one journal record; false when it does not make sense (treated like a torn record).
bool apply_record(const RecordHeader& h, std::string_view payload, MessageInfo& info) {
    if (h.type == RecordType::hold) {
        if (payload != "hold" && payload != "release") return false;
        info.held = payload == "hold";
        return true;
    }
    if (h.type == RecordType::notice || h.type == RecordType::delay) {
        if (payload != "none" && !is_valid_queue_id(payload)) return false;
        (h.type == RecordType::notice ? info.notice : info.delay_notice) = payload;
        return true;
    }
    if (h.type != RecordType::status) return false;
    auto updates = decode_status(payload);
    if (!updates) return false;
    for (const auto& u : *updates) {
        if (u.rcpt >= info.rcpts.size()) return false;
    }
    for (auto& u : *updates) info.rcpts[u.rcpt] = std::move(u.state);
    return true;
}

// Replays the journal; returns how many bytes of it are valid. A torn or corrupt record ends
// the journal: everything before it was fsync'd before the next record was started.
std::uint64_t replay_journal(std::string_view j, MessageInfo& info) {
    std::uint64_t pos = 0;
    while (j.size() - pos >= kRecordHeaderSize) {
        auto h = parse_record_header(j.substr(pos, kRecordHeaderSize));
        if (!h) break;
        std::uint64_t avail = j.size() - pos - kRecordHeaderSize;
        if (h->length + kRecordTrailerSize > avail) break;
        auto body = j.substr(pos + kRecordHeaderSize, h->length + kRecordTrailerSize);
        if (!record_payload_ok(*h, body)) break;
        MessageInfo next = info;
        if (!apply_record(*h, body.substr(0, h->length), next)) break;
        info = std::move(next);
        pos += kRecordHeaderSize + h->length + kRecordTrailerSize;
    }
    return pos;
}

}  // namespace

// ---- SpoolWriter ----

SpoolWriter::SpoolWriter(SpoolIo& io, int incoming_fd, std::string id)
    : io_(io), incoming_fd_(incoming_fd), id_(std::move(id)) {
    buf_.reserve(kWriteBuffer);
    buf_ += kSpoolMagic;
    buf_ += encode_record_header(RecordType::body, 0, 0);  // patched in commit()
}

SpoolWriter::~SpoolWriter() {
    if (fd_ >= 0) abandon();
}

std::error_code SpoolWriter::write(std::string_view chunk) {
    if (error_) return error_;
    crc_ = crc32(chunk, crc_);
    size_ += chunk.size();
    buf_ += chunk;
    if (buf_.size() >= kWriteBuffer) return flush();
    return {};
}

std::error_code SpoolWriter::create() {
    if (error_ || created_) return error_;
    fd_ = io_.openat(incoming_fd_, id_.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd_ < 0)
        error_ = errno_ec();
    else
        created_ = true;
    return error_;
}

std::error_code SpoolWriter::flush() {
    if (!error_ && !created_) create();
    if (!error_) error_ = write_all(io_, fd_, buf_);
    buf_.clear();
    return error_;
}

// Completes the file in incoming/: body trailer and envelope record, the real body header,
// then fdatasync and close. After this only the rename is missing.
std::error_code SpoolWriter::finish(std::string_view envelope_record, bool version_2) {
    if (error_) return error_;
    buf_ += '\n';
    buf_ += envelope_record;
    if (auto ec = flush()) return ec;
    auto header = encode_record_header(RecordType::body, size_, crc_);
    if (version_2) header = std::string(kSpoolMagic2) + header;  // the magic is next to it
    if (auto ec = pwrite_all(io_, fd_, header, version_2 ? 0 : kSpoolMagic.size())) return ec;
    if (io_.fdatasync(fd_) != 0) return errno_ec();
    if (io_.close(std::exchange(fd_, -1)) != 0) return errno_ec();
    return {};
}

void SpoolWriter::abandon() {
    if (fd_ >= 0) io_.close(fd_);
    fd_ = -1;
    if (created_) io_.unlinkat(incoming_fd_, id_.c_str(), 0);
}

// ---- Spool: opening and recovery ----

Spool::Spool(SpoolOptions opt)
    : opt_(std::move(opt)), io_(opt_.io ? *opt_.io : SpoolIo::real()), cache_(new Cache) {
    cache_->limit = opt_.cache_limit;
}

Spool::~Spool() {
    if (dir_unsynced_ || (queue_sync_ && queue_sync_->pending())) io_.fsync(queue_fd_);
    for (int fd : {corrupt_fd_, queue_fd_, incoming_fd_, lock_fd_, dir_fd_}) {
        if (fd >= 0) ::close(fd);
    }
}

std::unique_ptr<Spool> Spool::open(const SpoolOptions& opt, std::error_code& ec) {
    std::unique_ptr<Spool> spool(new Spool(opt));
    ec = spool->init();
    if (ec) return nullptr;
    return spool;
}

std::error_code Spool::init() {
    if (::mkdir(opt_.dir.c_str(), 0700) != 0 && errno != EEXIST) return errno_ec();
    dir_fd_ = ::open(opt_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd_ < 0) return errno_ec();
    // Everything below is opened relative to this verified directory, never through a link:
    // whoever owns the spool must not be able to steer root elsewhere (SPEC §3).
    struct stat st {};
    if (::fstat(dir_fd_, &st) != 0) return errno_ec();
    if (st.st_uid != ::geteuid()) return SpoolErrc::foreign_owner;
    lock_fd_ = ::openat(dir_fd_, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) return errno_ec();
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        return errno == EWOULDBLOCK ? make_error_code(SpoolErrc::locked) : errno_ec();
    }
    std::error_code ec;
    incoming_fd_ = open_subdir(dir_fd_, "incoming", ec);
    if (!ec) queue_fd_ = open_subdir(dir_fd_, "queue", ec);
    if (!ec) corrupt_fd_ = open_subdir(dir_fd_, "corrupt", ec);
    if (ec) return ec;
    if (::fsync(dir_fd_) != 0) return errno_ec();
    queue_sync_ = std::make_unique<DirSyncer>(queue_fd_, io_);
    recover_incoming();
    if (auto rc = recover_queue()) return rc;
    recovery_.messages = index_.size();
    return {};
}

// Anything in incoming/ was never acknowledged: the client got no 250 and will retry.
void Spool::recover_incoming() {
    for (const auto& name : list_dir(incoming_fd_)) {
        if (io_.unlinkat(incoming_fd_, name.c_str(), 0) == 0) ++recovery_.incoming_removed;
    }
    io_.fsync(incoming_fd_);
}

// A large queue is read by several threads (on a cold cache the reads wait on the disk, and
// more of them in flight go faster; on a warm one both cores parse); a small one in order, so
// that what the fault tests count stays deterministic.
std::error_code Spool::recover_queue() {
    std::vector<std::string> names = list_dir(queue_fd_);
    std::erase_if(names, [](const std::string& n) { return !is_valid_queue_id(n); });
    const std::size_t threads = names.size() < kParallelRecovery ? 1 : kRecoveryThreads;
    std::atomic<std::size_t> next{0};
    std::mutex err_mu;
    std::error_code first_error;
    auto run = [&] {
        for (std::size_t i; (i = next++) < names.size();) {
            auto ec = load_one(names[i]);
            if (!ec) continue;
            std::lock_guard lock(err_mu);
            if (!first_error) first_error = ec;
            next = names.size();  // stop the others
        }
    };
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(run);
    run();
    for (auto& t : pool) t.join();
    return first_error;
}

// I/O errors (open, read) fail the start instead of hiding or quarantining mail; a file that
// reads fine but does not parse is quarantined.
std::error_code Spool::load_one(const std::string& id) {
    int fd = io_.openat(queue_fd_, id.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    struct stat st {};
    if (fd < 0 ? errno == ELOOP : ::fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (fd >= 0) io_.close(fd);
        quarantine(id);  // a link or a special file is nobody's queue file
        return {};
    }
    if (fd < 0) return errno_ec();
    Reader in(io_, fd, kReadWhole);
    auto head = parse_head(in);
    std::string journal;
    if (head) in.read(head->journal_start, in.size - head->journal_start, journal);
    if (in.io_error || !head) {
        io_.close(fd);
        if (in.io_error) return in.io_error;
        quarantine(id);
        return {};
    }
    MessageInfo info;
    info.id = id;
    info.envelope = std::move(head->env);
    info.rcpts.resize(info.envelope.recipients.size());
    info.body_size = head->body_size;
    Entry e;
    e.good_end = head->journal_start + replay_journal(journal, info);
    if (e.good_end < in.size) {
        // Cut the torn record off so that the next append starts on a record boundary.
        if (io_.ftruncate(fd, static_cast<off_t>(e.good_end)) == 0) io_.fdatasync(fd);
        std::lock_guard lock(mu_);
        ++recovery_.torn_journals;
        recovery_.torn.push_back(id);
    }
    info.file_size = e.good_end;
    e.body_size = info.body_size;
    e.set(info);
    io_.close(fd);
    const auto key = *QueueKey::from(id);
    std::lock_guard lock(mu_);
    index_.emplace(key, std::move(e));
    // A small queue stays wholly in memory; a large one is read back as it is delivered.
    if (cache_->slots.size() < cache_->limit) cache_->put(key, std::move(info));
    return {};
}

// A committed file always has a complete envelope (it was fsync'd before the rename), so an
// unreadable one is damage, not a crash artefact: keep it for the operator, out of the queue.
void Spool::quarantine(const std::string& id) {
    std::error_code ec;
    rename_to_corrupt(id, ec);
    std::lock_guard lock(mu_);
    recovery_.corrupt.push_back(id);
}

// Moves queue/<id> to corrupt/ and makes both directories durable. False when the rename
// failed (the file is still in queue/); `ec` also reports a failed fsync after a rename.
bool Spool::rename_to_corrupt(const std::string& id, std::error_code& ec) {
    if (io_.renameat2(queue_fd_, id.c_str(), corrupt_fd_, id.c_str(), 0) != 0) {
        ec = errno_ec();
        return false;
    }
    if (io_.fsync(corrupt_fd_) != 0) ec = errno_ec();
    if (auto sec = sync_queue_dir(); !ec) ec = sec;
    return true;
}

std::uint64_t Spool::dir_fsyncs() const {
    return queue_sync_->fsync_count();
}

// A directory fsync that failed leaves a rename or unlink that may not survive a crash; it is
// tried once more at once, and if that fails too, again by the next commit or remove (every one
// fsyncs queue/, which covers all earlier changes) and at close.
std::error_code Spool::sync_queue_dir() {
    auto ec = queue_sync_->sync();
    if (ec) ec = queue_sync_->sync();
    dir_unsynced_ = static_cast<bool>(ec);
    return ec;
}

// ---- Spool: receiving ----

std::error_code Spool::check_space() const {
    if (opt_.min_free_bytes == 0) return {};
    struct statvfs vfs {};
    if (io_.fstatvfs(queue_fd_, &vfs) != 0) return errno_ec();
    auto avail = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    return avail < opt_.min_free_bytes ? make_error_code(SpoolErrc::low_space) : std::error_code{};
}

std::unique_ptr<SpoolWriter> Spool::begin(std::error_code& ec, Reserve reserve) {
    while (true) {
        auto w = begin_deferred(ec, reserve);
        if (!w) return nullptr;
        ec = w->create();
        if (ec == std::errc::file_exists) continue;  // a leftover of the same name: another ID
        if (ec) return nullptr;
        return w;
    }
}

std::unique_ptr<SpoolWriter> Spool::begin_deferred(std::error_code& ec, Reserve reserve) {
    ec = reserve == Reserve::may_use ? std::error_code{} : check_space();
    if (ec) return nullptr;
    while (true) {
        std::string id = ids_.next();
        if (auto key = QueueKey::from(id)) {
            std::lock_guard lock(mu_);
            if (index_.count(*key)) continue;
        }
        return std::unique_ptr<SpoolWriter>(new SpoolWriter(io_, incoming_fd_, std::move(id)));
    }
}

CommitResult Spool::commit(QueuedEnvelope env, std::string_view body, Reserve reserve) {
    std::error_code ec;
    auto w = begin(ec, reserve);
    if (!w) return {ec, {}};
    w->write(body);
    return commit(std::move(w), std::move(env));
}

// SPEC §3: the 250 after DATA means "on disk, fsync'd". Order: body and envelope written and
// fdatasync'd in incoming/, then renamed into queue/, then queue/ fsync'd (shared by all
// commits in flight). Only after that is the message visible in the index.
CommitResult Spool::commit(std::unique_ptr<SpoolWriter> writer, QueuedEnvelope env) {
    if (!writer) return {make_error_code(SpoolErrc::closed), {}};
    auto& w = *writer;
    if (env.arrival_us == 0) env.arrival_us = unix_micros();
    std::string envelope = encode_record(RecordType::envelope, encode_envelope(env));
    std::error_code ec = w.finish(envelope, needs_version_2(env));
    if (!ec) ec = rename_noreplace(io_, incoming_fd_, w.id_, queue_fd_, w.id_);
    if (ec) {
        w.abandon();
        return {ec, {}};
    }
    if ((ec = queue_sync_->sync())) {
        // Not durable: the client gets 452 and will send again, so try not to deliver this
        // copy: unlink it and make that unlink durable (retried by later syncs if need be).
        io_.unlinkat(queue_fd_, w.id_.c_str(), 0);
        sync_queue_dir();
        return {ec, {}};
    }
    if (dir_unsynced_) dir_unsynced_ = false;  // this fsync covered the earlier changes too
    MessageInfo info;
    info.id = w.id_;
    info.body_size = w.size_;
    info.rcpts.resize(env.recipients.size());
    info.envelope = std::move(env);
    Entry e;
    e.good_end = kBodyOffset + w.size_ + kRecordTrailerSize + envelope.size();
    e.body_size = w.size_;
    e.set(info);
    info.file_size = e.good_end;
    const auto key = *QueueKey::from(w.id_);
    {
        std::lock_guard lock(mu_);
        index_.emplace(key, std::move(e));
    }
    std::lock_guard lock(cache_mu_);
    cache_->put(key, std::move(info));
    return {{}, w.id_};
}

// ---- Spool: journal and admin ----

std::mutex& Spool::stripe(const QueueKey& key) const {
    return stripes_[QueueKeyHash{}(key) % stripes_.size()];
}

// The caller holds the key's stripe, so the entry stays in the index until it lets go.
Spool::Entry* Spool::find(const QueueKey& key) const {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : const_cast<Entry*>(&it->second);
}

// Appends one record at the known-good end and fdatasyncs it. A record whose write or
// fdatasync failed counts as not written, even if it is complete: it is cut off again and the
// cut synced; if the cut fails, its header is overwritten so that recovery rejects it; if that
// fails too, the next append overwrites it because it starts at good_end, not at the end of
// the file. Once fdatasync succeeded the record is durable, so a failing close does not count.
std::error_code Spool::append(const std::string& id, Entry& e, RecordType type,
                              std::string_view payload) {
    int fd = io_.openat(queue_fd_, id.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno_ec();
    std::string rec = encode_record(type, payload);
    std::error_code ec = pwrite_all(io_, fd, rec, e.good_end);
    if (!ec && io_.fdatasync(fd) != 0) ec = errno_ec();
    if (ec) undo_append(fd, e.good_end);
    io_.close(fd);
    if (ec) return ec;
    e.good_end += rec.size();
    return {};
}

void Spool::undo_append(int fd, std::uint64_t good_end) {
    const auto end = static_cast<off_t>(good_end);
    if (io_.ftruncate(fd, end) == 0 && io_.fdatasync(fd) == 0) return;
    const std::string blank(kRecordHeaderSize, ' ');
    if (io_.pwrite(fd, blank.data(), blank.size(), end) == ssize_t(blank.size())) io_.fdatasync(fd);
}

std::error_code Spool::update(std::string_view id, const std::vector<StatusUpdate>& updates) {
    auto key = QueueKey::from(id);
    if (!key) return SpoolErrc::not_found;
    std::lock_guard lock(stripe(*key));
    Entry* e = find(*key);
    if (!e) return SpoolErrc::not_found;
    for (const auto& u : updates) {
        if (u.rcpt >= e->rcpts.size()) return SpoolErrc::bad_recipient;
    }
    if (auto ec = append(key->str(), *e, RecordType::status, encode_status(updates))) return ec;
    {
        std::lock_guard index_lock(mu_);
        for (const auto& u : updates) e->rcpts[u.rcpt] = {u.state.next_attempt_us, u.state.status};
    }
    std::lock_guard cache_lock(cache_mu_);
    if (auto* info = cache_->peek(*key)) {
        for (const auto& u : updates) info->rcpts[u.rcpt] = u.state;
        info->file_size = e->good_end;
    }
    return {};
}

std::error_code Spool::mark_notice(std::string_view id, std::string_view notice) {
    return mark(id, RecordType::notice, notice);
}

std::error_code Spool::mark_delay_notice(std::string_view id, std::string_view notice) {
    return mark(id, RecordType::delay, notice);
}

std::error_code Spool::mark(std::string_view id, RecordType type, std::string_view notice) {
    auto key = QueueKey::from(id);
    if (!key) return SpoolErrc::not_found;
    std::lock_guard lock(stripe(*key));
    Entry* e = find(*key);
    if (!e) return SpoolErrc::not_found;
    std::string payload = notice.empty() ? "none" : std::string(notice);
    if (auto ec = append(key->str(), *e, type, payload)) return ec;
    std::lock_guard cache_lock(cache_mu_);
    if (auto* info = cache_->peek(*key)) {
        (type == RecordType::notice ? info->notice : info->delay_notice) = std::move(payload);
        info->file_size = e->good_end;
    }
    return {};
}

std::error_code Spool::set_held(std::string_view id, bool held) {
    auto key = QueueKey::from(id);
    if (!key) return SpoolErrc::not_found;
    std::lock_guard lock(stripe(*key));
    Entry* e = find(*key);
    if (!e) return SpoolErrc::not_found;
    if (e->held == held) return {};
    if (auto ec = append(key->str(), *e, RecordType::hold, held ? "hold" : "release")) return ec;
    {
        std::lock_guard index_lock(mu_);
        e->held = held;
    }
    std::lock_guard cache_lock(cache_mu_);
    if (auto* info = cache_->peek(*key)) {
        info->held = held;
        info->file_size = e->good_end;
    }
    return {};
}

std::error_code Spool::remove(std::string_view id, Sync sync) {
    auto key = QueueKey::from(id);
    if (!key) return SpoolErrc::not_found;
    {
        std::lock_guard lock(stripe(*key));
        if (!find(*key)) return SpoolErrc::not_found;
        if (io_.unlinkat(queue_fd_, key->str().c_str(), 0) != 0) return errno_ec();
        {
            std::lock_guard index_lock(mu_);
            index_.erase(*key);
        }
        std::lock_guard cache_lock(cache_mu_);
        cache_->drop(*key);
    }
    if (sync == Sync::later) {
        queue_sync_->note_change();
        return {};
    }
    return sync_queue_dir();
}

std::error_code Spool::sync_removals() {
    if (!queue_sync_->pending()) return {};
    return sync_queue_dir();
}

// The body failed its CRC (or the file is otherwise damaged): out of the queue, into corrupt/.
// A failed rename leaves the message queued and returns the error.
std::error_code Spool::move_to_corrupt(std::string_view id) {
    auto key = QueueKey::from(id);
    if (!key) return SpoolErrc::not_found;
    std::lock_guard lock(stripe(*key));
    if (!find(*key)) return SpoolErrc::not_found;
    std::error_code ec;
    if (!rename_to_corrupt(key->str(), ec)) return ec;
    {
        std::lock_guard index_lock(mu_);
        index_.erase(*key);
    }
    std::lock_guard cache_lock(cache_mu_);
    cache_->drop(*key);
    return ec;
}

// The envelope and journal as on disk, up to the entry's last valid record (the caller holds
// the stripe, so no append runs meanwhile). A file that no longer parses reads as corrupt.
std::optional<MessageInfo> Spool::read_info(const std::string& id, const Entry& e,
                                            std::error_code& ec) const {
    int fd = io_.openat(queue_fd_, id.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        ec = errno == ENOENT ? make_error_code(SpoolErrc::not_found) : errno_ec();
        return std::nullopt;
    }
    Reader in(io_, fd, kReadWhole);
    auto head = parse_head(in);
    std::string journal;
    const bool ok = head && head->journal_start <= e.good_end &&
                    in.read(head->journal_start, e.good_end - head->journal_start, journal);
    io_.close(fd);
    if (in.io_error || !ok) {
        ec = in.io_error ? in.io_error : make_error_code(SpoolErrc::corrupt);
        return std::nullopt;
    }
    MessageInfo info;
    info.id = id;
    info.envelope = std::move(head->env);
    info.rcpts.resize(info.envelope.recipients.size());
    info.body_size = head->body_size;
    replay_journal(journal, info);
    info.file_size = e.good_end;
    return info;
}

std::optional<MessageInfo> Spool::get(std::string_view id, std::error_code& ec) const {
    return fetch(id, ec, true);
}

// A listing reads past the cache (keep = false) so that it does not evict the active messages.
// A cached message is answered without its stripe: the cache changes only under cache_mu_, after
// the change is durable (and a removal drops it), so the queue's loop never waits behind another
// thread's journal fdatasync on the same stripe.
std::optional<MessageInfo> Spool::fetch(std::string_view id, std::error_code& ec, bool keep) const {
    ec.clear();
    auto key = QueueKey::from(id);
    if (!key) return std::nullopt;
    {
        std::lock_guard cache_lock(cache_mu_);
        if (auto info = cache_->find(*key)) return info;
    }
    std::lock_guard lock(stripe(*key));
    const Entry* e = find(*key);
    if (!e) return std::nullopt;
    {
        std::lock_guard cache_lock(cache_mu_);
        if (auto info = cache_->find(*key)) return info;
    }
    auto info = read_info(key->str(), *e, ec);
    if (ec == SpoolErrc::not_found) ec.clear();
    if (!info || !keep) return info;
    std::lock_guard cache_lock(cache_mu_);
    cache_->put(*key, *info);
    return info;
}

std::optional<MessageInfo> Spool::get(std::string_view id) const {
    std::error_code ec;
    return get(id, ec);
}

std::vector<MessageInfo> Spool::list() const {
    std::vector<MessageInfo> out;
    std::string after;
    for (auto page = list(after, 4096); !page.empty(); page = list(after, 4096)) {
        after = page.back().id;
        for (auto& m : page) out.push_back(std::move(m));
    }
    return out;
}

std::vector<MessageInfo> Spool::list(std::string_view after, std::size_t max) const {
    std::vector<std::string> ids;
    {
        std::lock_guard lock(mu_);
        auto it = index_.begin();
        if (auto key = QueueKey::from(after)) it = index_.upper_bound(*key);
        for (; it != index_.end() && ids.size() < max; ++it) ids.push_back(it->first.str());
    }
    std::vector<MessageInfo> out;
    out.reserve(ids.size());
    for (const auto& id : ids) {
        std::error_code ec;
        if (auto info = fetch(id, ec, false)) out.push_back(std::move(*info));
    }
    return out;
}

std::vector<QueueSummary> Spool::summaries(std::string_view after, std::size_t max) const {
    std::vector<QueueSummary> out;
    std::lock_guard lock(mu_);
    auto it = index_.begin();
    if (auto key = QueueKey::from(after)) it = index_.upper_bound(*key);
    for (; it != index_.end() && out.size() < max; ++it) {
        QueueSummary s{it->first.str(), it->second.held, true, 0};
        for (const auto& r : it->second.rcpts) {
            if (r.status == RcptStatus::delivered || r.status == RcptStatus::bounced) continue;
            const auto next = r.status == RcptStatus::pending ? 0 : r.next_attempt_us;
            s.next_attempt_us = s.done ? next : std::min(s.next_attempt_us, next);
            s.done = false;
        }
        out.push_back(std::move(s));
    }
    return out;
}

std::size_t Spool::size() const {
    std::lock_guard lock(mu_);
    return index_.size();
}

std::unique_ptr<BodyReader> Spool::open_body(std::string_view id, std::error_code& ec) const {
    auto key = QueueKey::from(id);
    bool known = false;
    if (key) {
        std::lock_guard lock(mu_);
        known = index_.count(*key) > 0;
    }
    if (!known) {
        ec = SpoolErrc::not_found;
        return nullptr;
    }
    int fd = io_.openat(queue_fd_, key->str().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        ec = errno == ENOENT ? make_error_code(SpoolErrc::not_found) : errno_ec();
        return nullptr;
    }
    Reader in(io_, fd);
    std::string header;
    RecordHeader h{RecordType::body, 0, 0};
    bool ok = in.read(kSpoolMagic.size(), kRecordHeaderSize, header);
    if (auto parsed = ok ? parse_record_header(header) : std::nullopt)
        h = *parsed;
    else
        ok = false;
    ok = ok && h.type == RecordType::body && h.length <= in.size - kBodyOffset;
    ec = in.io_error ? in.io_error : ok ? std::error_code() : make_error_code(SpoolErrc::corrupt);
    if (ec) {
        io_.close(fd);
        return nullptr;
    }
    return std::unique_ptr<BodyReader>(new BodyReader(io_, fd, h.length, h.crc));
}

// The body is checked against its CRC here rather than at recovery, so that start-up does not
// read every byte of a large queue.
std::error_code Spool::read_body(std::string_view id, std::string& out) const {
    std::error_code ec;
    auto body = open_body(id, ec);
    if (!body) return ec;
    out.clear();
    out.reserve(body->size());
    std::string piece;
    while (body->position() < body->size()) {
        if ((ec = body->read(kReadChunk, piece))) return ec;
        out += piece;
    }
    return body->check();
}

// ---- BodyReader ----

BodyReader::~BodyReader() {
    io_.close(fd_);
}

std::error_code BodyReader::read(std::size_t n, std::string& out) {
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, size_ - pos_));
    out.resize(n);
    std::size_t got = 0;
    while (got < n) {
        ssize_t r =
            io_.pread(fd_, out.data() + got, n - got, static_cast<off_t>(kBodyOffset + pos_ + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return errno_ec();
        if (r == 0) return SpoolErrc::corrupt;  // the file ends inside the body
        got += static_cast<std::size_t>(r);
    }
    seen_ = crc32(out, seen_);
    pos_ += n;
    return {};
}

std::error_code BodyReader::check() {
    if (pos_ != size_ || seen_ != crc_) return SpoolErrc::corrupt;
    char nl = 0;
    ssize_t r;
    do {
        r = io_.pread(fd_, &nl, 1, static_cast<off_t>(kBodyOffset + size_));
    } while (r < 0 && errno == EINTR);
    if (r < 0) return errno_ec();
    return r == 1 && nl == '\n' ? std::error_code() : make_error_code(SpoolErrc::corrupt);
}

}  // namespace dr::relay
