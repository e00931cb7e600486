// Fault injection under the spool (SpoolIo): every system call of one commit, one status update,
// one notice mark and one removal is made to fail once with ENOSPC, EIO and EMFILE. After each
// run the spool is reopened (recovery) and checked: a commit that returned success survives, a
// failed one left nothing; an update is on disk exactly when it returned success (so a recipient
// is delivered at most twice: once before the write, once more after a restart); nothing
// half-written is left (no torn journal, nothing in incoming/ or corrupt/). Prints the table of
// calls x errnos x outcomes.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <set>
#include <sstream>

#include "spool_test_util.hpp"

namespace dr::relay {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Counts the calls made while armed and fails those whose index is in `fail` with `err`.
class FaultIo : public SpoolIo {
  public:
    void arm(std::set<int> fail, int err) {
        fail_ = std::move(fail), err_ = err, calls.clear(), armed_ = true;
    }
    void disarm() { armed_ = false; }
    std::vector<SpoolCall> calls;

  protected:
    int inject(SpoolCall c) override {
        if (!armed_) return 0;
        int n = static_cast<int>(calls.size());
        calls.push_back(c);
        return fail_.count(n) ? err_ : 0;
    }

  private:
    std::set<int> fail_;
    int err_ = 0;
    bool armed_ = false;
};

const std::string kBody = "Subject: fault\r\n\r\n" + std::string(100000, 'f') + "\r\n";

std::unique_ptr<Spool> open_with(const std::string& dir, SpoolIo* io) {
    std::error_code ec;
    // 1 byte of reserve keeps the free-space check (fstatvfs) among the calls of a commit.
    auto s = Spool::open({dir, 1, io}, ec);
    EXPECT_FALSE(ec) << ec.message();
    return s;
}

// What recovery finds; also checks that nothing half-written is left.
std::unique_ptr<Spool> recover(const std::string& dir, const std::string& what) {
    auto s = open_with(dir, nullptr);
    EXPECT_EQ(s->recovery().torn_journals, 0u) << what;
    EXPECT_TRUE(s->recovery().corrupt.empty()) << what;
    EXPECT_EQ(testing::count_files(fs::path(dir) / "incoming"), 0u) << what;
    EXPECT_EQ(testing::count_files(fs::path(dir) / "corrupt"), 0u) << what;
    return s;
}

const char* errno_name(int e) {
    return e == ENOSPC ? "ENOSPC" : e == EIO ? "EIO" : "EMFILE";
}

// One operation under test: `setup` runs unarmed, `op` armed; `check` runs on the recovered
// spool with op's result and returns the outcome for the table.
struct Scenario {
    const char* name;
    std::function<std::string(Spool&)> setup;  // returns the queue ID to work on ("" for none)
    std::function<std::error_code(Spool&, const std::string&, std::string&)> op;
    std::function<std::string(Spool&, const std::string&, std::error_code, const std::string&)>
        check;
};

std::string committed(Spool& s) {
    auto r = s.commit(testing::sample_envelope(2), kBody);
    EXPECT_FALSE(r.ec);
    return r.id;
}

std::vector<Scenario> scenarios() {
    std::vector<Scenario> out;
    out.push_back(
        {"commit", [](Spool&) { return std::string(); },
         [](Spool& s, const std::string&, std::string& id) {
             auto r = s.commit(testing::sample_envelope(2), kBody);
             id = r.id;
             return r.ec;
         },
         [](Spool& s, const std::string& id, std::error_code ec, const std::string& what) {
             auto all = s.list();
             if (ec) {
                 EXPECT_TRUE(all.empty()) << what << ": a refused commit left a message";
                 return std::string("refused, nothing left");
             }
             EXPECT_EQ(all.size(), 1u) << what << ": an accepted message was lost";
             std::string body;
             EXPECT_FALSE(s.read_body(id, body)) << what;
             EXPECT_EQ(body, kBody) << what;
             return std::string("accepted, survives");
         }});
    auto update_check = [](Spool& s, const std::string& id, std::error_code ec,
                           const std::string& what) {
        auto info = s.get(id);
        EXPECT_TRUE(info) << what;
        if (!info) return std::string("LOST");
        auto st = info->rcpts[0].status;
        // The recipient was delivered once before the write; if the write is not on disk the
        // restarted relay delivers it again: twice at most, never more.
        int deliveries = 1 + (st == RcptStatus::pending ? 1 : 0);
        EXPECT_LE(deliveries, 2) << what;
        EXPECT_EQ(st, ec ? RcptStatus::pending : RcptStatus::delivered)
            << what << ": on disk must be exactly what update() reported";
        return std::string(ec ? "not written" : "written") + ", deliveries " +
               std::to_string(deliveries);
    };
    out.push_back({"update", committed,
                   [](Spool& s, const std::string& id, std::string&) {
                       auto ec = s.update(id, {{0, testing::delivered(1)}});
                       // Memory mirrors the disk: unchanged after a failure.
                       EXPECT_EQ(s.get(id)->rcpts[0].status,
                                 ec ? RcptStatus::pending : RcptStatus::delivered);
                       return ec;
                   },
                   update_check});
    out.push_back(
        {"mark_notice", committed,
         [](Spool& s, const std::string& id, std::string&) { return s.mark_notice(id, ""); },
         [](Spool& s, const std::string& id, std::error_code ec, const std::string& what) {
             auto info = s.get(id);
             EXPECT_TRUE(info) << what;
             if (!info) return std::string("LOST");
             EXPECT_EQ(info->notice, ec ? "" : "none") << what;
             return std::string(ec ? "not written" : "written");
         }});
    out.push_back(
        {"remove", committed,
         [](Spool& s, const std::string& id, std::string&) { return s.remove(id); },
         [](Spool& s, const std::string& id, std::error_code ec, const std::string& what) {
             bool there = s.get(id).has_value();
             // Only a failed unlink keeps the message; a failed directory fsync
             // after it is retried (the name is gone either way once synced).
             if (!ec) {
                 EXPECT_FALSE(there) << what;
             }
             return std::string(ec ? "error, " : "ok, ") + (there ? "kept" : "gone");
         }});
    return out;
}

TEST(SpoolFaults, EveryCallFailsOnceWithEveryErrno) {
    std::ostringstream table;
    for (const auto& sc : scenarios()) {
        // Enumerate the calls of a clean run.
        FaultIo io;
        std::size_t ncalls = 0;
        std::string list;
        {
            TempDir tmp;
            auto s = open_with(tmp.path(), &io);
            std::string id = sc.setup(*s), out;
            io.arm({}, 0);
            ASSERT_FALSE(sc.op(*s, id, out)) << sc.name;
            io.disarm();
            ncalls = io.calls.size();
            for (auto c : io.calls) list += std::string(" ") + to_string(c);
        }
        table << sc.name << ": " << ncalls << " calls:" << list << "\n";
        ASSERT_GE(ncalls, 2u) << sc.name;
        for (std::size_t i = 0; i < ncalls; ++i) {
            for (int err : {ENOSPC, EIO, EMFILE}) {
                TempDir tmp;
                std::string what = std::string(sc.name) + " call " + std::to_string(i) + " (" +
                                   to_string(io.calls[i]) + ") " + errno_name(err);
                std::string id;
                std::error_code ec;
                {
                    FaultIo f;
                    auto s = open_with(tmp.path(), &f);
                    id = sc.setup(*s);
                    std::string made;
                    f.arm({static_cast<int>(i)}, err);
                    ec = sc.op(*s, id, made);
                    f.disarm();
                    if (id.empty()) id = made;
                }
                auto s = recover(tmp.path(), what);
                auto outcome = sc.check(*s, id, ec, what);
                char line[200];
                std::snprintf(line, sizeof line, "  %-12s %2zu %-10s %-7s -> %s%s\n", sc.name, i,
                              to_string(io.calls[i]), errno_name(err), ec ? "error: " : "",
                              outcome.c_str());
                table << line;
            }
        }
    }
    std::cout << table.str();
}

// The fallbacks of a failed append: fdatasync fails and so does the cut (ftruncate), and then
// even the blanking of the header; the record still counts as not written after recovery, or
// is overwritten by the next append.
TEST(SpoolFaults, FailedSyncAndFailedCutStillNotWritten) {
    for (std::set<int> fails : {std::set<int>{2, 3}, std::set<int>{2, 3, 4}}) {
        TempDir tmp;
        std::string id;
        {
            FaultIo f;
            auto s = open_with(tmp.path(), &f);
            id = committed(*s);
            f.arm(fails, EIO);  // openat, pwrite, fdatasync, ftruncate, pwrite (blank), ...
            EXPECT_TRUE(s->update(id, {{0, testing::delivered(1)}}));
            f.disarm();
            ASSERT_GE(f.calls.size(), 4u);
            EXPECT_EQ(f.calls[2], SpoolCall::fdatasync);
            EXPECT_EQ(f.calls[3], SpoolCall::ftruncate);
            if (fails.size() == 3) {
                // The header could not be blanked either: the next append overwrites it.
                ASSERT_FALSE(s->update(id, {{1, testing::delivered(1)}}));
            }
        }
        auto s = open_with(tmp.path(), nullptr);
        auto info = s->get(id);
        ASSERT_TRUE(info);
        EXPECT_EQ(info->rcpts[0].status, RcptStatus::pending) << fails.size();
        EXPECT_EQ(info->rcpts[1].status,
                  fails.size() == 3 ? RcptStatus::delivered : RcptStatus::pending);
    }
}

}  // namespace
}  // namespace dr::relay
