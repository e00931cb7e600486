// Spool round trips on the local disk: commit, reopen, journal updates, hold/release, delete,
// listings, the lock, and a body damaged on disk.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "relay/cli/queue_list.hpp"
#include "spool_test_util.hpp"

namespace dr::relay {
namespace {

namespace fs = std::filesystem;
using testing::open_spool;
using testing::sample_envelope;
using testing::TempDir;

TEST(Spool, CommitAndReopenRoundTrip) {
    TempDir tmp;
    std::string body = "Subject: hi\r\n\r\nline\r\n.dot\r\n";
    body += std::string(200000, 'x') + std::string("\0\xff", 2);
    std::string id;
    auto env = sample_envelope(3);
    {
        auto spool = open_spool(tmp.path());
        auto r = spool->commit(env, body);
        ASSERT_FALSE(r.ec) << r.ec.message();
        id = r.id;
        EXPECT_TRUE(is_valid_queue_id(id));
        EXPECT_TRUE(fs::exists(fs::path(tmp.path()) / "queue" / id));
        EXPECT_EQ(testing::count_files(fs::path(tmp.path()) / "incoming"), 0u);
        auto info = spool->get(id);
        ASSERT_TRUE(info);
        EXPECT_NE(info->envelope.arrival_us, 0);
        env.arrival_us = info->envelope.arrival_us;
    }
    auto spool = open_spool(tmp.path());
    EXPECT_EQ(spool->recovery().messages, 1u);
    EXPECT_EQ(spool->recovery().torn_journals, 0u);
    auto info = spool->get(id);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->envelope, env);
    EXPECT_EQ(info->body_size, body.size());
    ASSERT_EQ(info->rcpts.size(), 3u);
    for (const auto& r : info->rcpts) EXPECT_EQ(r, RcptState{});
    std::string back;
    ASSERT_FALSE(spool->read_body(id, back));
    EXPECT_EQ(back, body);
}

// RFC 8689's flags need format version 2; a message without them stays version 1, which
// older readers still read. Both read back after a restart.
TEST(Spool, RequireTlsFlagsAreVersion2AndReadBack) {
    TempDir tmp;
    auto plain = sample_envelope(1), strict = sample_envelope(1), optional = sample_envelope(1);
    strict.requiretls = true;
    optional.tls_optional = true;
    std::vector<std::string> ids;
    {
        auto spool = open_spool(tmp.path());
        for (const auto& e : {plain, strict, optional}) {
            auto r = spool->commit(e, "Subject: v\r\n\r\nbody\r\n");
            ASSERT_FALSE(r.ec) << r.ec.message();
            ids.push_back(r.id);
        }
    }
    auto magic = [&](const std::string& id) {
        std::ifstream f(fs::path(tmp.path()) / "queue" / id, std::ios::binary);
        std::string m(9, '\0');
        f.read(m.data(), 9);
        return m;
    };
    EXPECT_EQ(magic(ids[0]), "DRSPOOL1\n");
    EXPECT_EQ(magic(ids[1]), "DRSPOOL2\n");
    EXPECT_EQ(magic(ids[2]), "DRSPOOL2\n");
    auto spool = open_spool(tmp.path());
    EXPECT_EQ(spool->recovery().messages, 3u);
    EXPECT_FALSE(spool->get(ids[0])->envelope.requiretls);
    EXPECT_TRUE(spool->get(ids[1])->envelope.requiretls);
    EXPECT_FALSE(spool->get(ids[1])->envelope.tls_optional);
    EXPECT_TRUE(spool->get(ids[2])->envelope.tls_optional);
    std::string back;
    ASSERT_FALSE(spool->read_body(ids[1], back));
    EXPECT_EQ(back, "Subject: v\r\n\r\nbody\r\n");
}

TEST(Spool, StreamingWriterAndAbandon) {
    TempDir tmp;
    auto spool = open_spool(tmp.path());
    std::error_code ec;
    auto w = spool->begin(ec);
    ASSERT_TRUE(w);
    std::string expect;
    for (int i = 0; i < 5000; ++i) {
        std::string line = "line " + std::to_string(i) + "\r\n";
        ASSERT_FALSE(w->write(line));
        expect += line;
    }
    auto id = w->id();
    auto r = spool->commit(std::move(w), sample_envelope(1));
    ASSERT_FALSE(r.ec);
    EXPECT_EQ(r.id, id);
    std::string back;
    ASSERT_FALSE(spool->read_body(id, back));
    EXPECT_EQ(back, expect);

    // A session that dies mid-DATA drops its writer: nothing may stay behind.
    auto w2 = spool->begin(ec);
    ASSERT_TRUE(w2);
    w2->write("half a message");
    EXPECT_EQ(testing::count_files(fs::path(tmp.path()) / "incoming"), 1u);
    w2.reset();
    EXPECT_EQ(testing::count_files(fs::path(tmp.path()) / "incoming"), 0u);
    EXPECT_EQ(spool->list().size(), 1u);
}

// begin_deferred() (what the inbound loop calls) touches no file: incoming/<ID> is made with the
// first flush or the commit, a writer dropped before that leaves nothing, and a name already
// taken in incoming/ fails the message without deleting the file that holds the name.
TEST(Spool, DeferredBeginMakesTheFileWithTheFirstWrite) {
    TempDir tmp;
    auto spool = open_spool(tmp.path());
    const auto incoming = fs::path(tmp.path()) / "incoming";
    std::error_code ec;
    auto w = spool->begin_deferred(ec);
    ASSERT_TRUE(w) << ec.message();
    w->write("Subject: deferred\r\n\r\nbody\r\n");
    EXPECT_EQ(testing::count_files(incoming), 0u);
    auto r = spool->commit(std::move(w), sample_envelope(1));
    ASSERT_FALSE(r.ec) << r.ec.message();
    std::string back;
    ASSERT_FALSE(spool->read_body(r.id, back));
    EXPECT_EQ(back, "Subject: deferred\r\n\r\nbody\r\n");

    auto dropped = spool->begin_deferred(ec);
    ASSERT_TRUE(dropped);
    dropped->write(std::string(200000, 'x'));  // past the write buffer: the file exists now
    EXPECT_EQ(testing::count_files(incoming), 1u);
    dropped.reset();
    EXPECT_EQ(testing::count_files(incoming), 0u);

    auto taken = spool->begin_deferred(ec);
    ASSERT_TRUE(taken);
    const auto squatter = incoming / taken->id();
    { std::ofstream(squatter) << "not ours"; }
    taken->write("body\r\n");
    auto failed = spool->commit(std::move(taken), sample_envelope(1));
    EXPECT_EQ(failed.ec, std::errc::file_exists);
    EXPECT_TRUE(fs::exists(squatter));
    EXPECT_EQ(spool->list().size(), 1u);
}

TEST(Spool, StatusJournalSurvivesReopen) {
    TempDir tmp;
    std::string id;
    {
        auto spool = open_spool(tmp.path());
        id = spool->commit(sample_envelope(3), "body\r\n").id;
        ASSERT_FALSE(spool->update(id, {{0, testing::deferred(1, "Connection refused")}}));
        ASSERT_FALSE(
            spool->update(id, {{0, testing::deferred(2, "Server certificate not verified")},
                               {2, testing::delivered(1)}}));
        ASSERT_FALSE(spool->hold(id));
        EXPECT_EQ(spool->update(id, {{3, testing::delivered(1)}}),
                  make_error_code(SpoolErrc::bad_recipient));
        EXPECT_EQ(spool->update("0000000000NOPE", {}), make_error_code(SpoolErrc::not_found));
    }
    auto spool = open_spool(tmp.path());
    auto info = spool->get(id);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->rcpts[0], testing::deferred(2, "Server certificate not verified"));
    EXPECT_EQ(info->rcpts[1], RcptState{});
    EXPECT_EQ(info->rcpts[2], testing::delivered(1));
    EXPECT_TRUE(info->held);
    EXPECT_FALSE(info->done());
    ASSERT_FALSE(spool->release(id));
    ASSERT_FALSE(spool->update(id, {{0, testing::delivered(3)}, {1, testing::delivered(1)}}));
    EXPECT_TRUE(spool->get(id)->done());
    EXPECT_FALSE(spool->get(id)->held);
}

TEST(Spool, DeleteIsDurable) {
    TempDir tmp;
    std::string keep, gone;
    {
        auto spool = open_spool(tmp.path());
        keep = spool->commit(sample_envelope(), "a").id;
        gone = spool->commit(sample_envelope(), "b").id;
        ASSERT_FALSE(spool->remove(gone));
        EXPECT_EQ(spool->remove(gone), make_error_code(SpoolErrc::not_found));
        EXPECT_FALSE(spool->get(gone));
        EXPECT_EQ(spool->hold(gone), make_error_code(SpoolErrc::not_found));
    }
    auto spool = open_spool(tmp.path());
    auto all = spool->list();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].id, keep);
}

TEST(Spool, SecondOpenIsLocked) {
    TempDir tmp;
    auto first = open_spool(tmp.path());
    std::error_code ec;
    auto second = Spool::open({tmp.path(), 0}, ec);
    EXPECT_FALSE(second);
    EXPECT_EQ(ec, make_error_code(SpoolErrc::locked));
    first.reset();
    EXPECT_TRUE(Spool::open({tmp.path(), 0}, ec)) << ec.message();
}

TEST(Spool, DamagedBodyIsReportedNotDelivered) {
    TempDir tmp;
    auto spool = open_spool(tmp.path());
    auto id = spool->commit(sample_envelope(), "original body").id;
    auto path = fs::path(tmp.path()) / "queue" / id;
    auto bytes = testing::read_file(path);
    auto pos = bytes.find("original");
    ASSERT_NE(pos, std::string::npos);
    bytes[pos] = 'O';
    testing::write_file(path, bytes);
    std::string out;
    EXPECT_EQ(spool->read_body(id, out), make_error_code(SpoolErrc::corrupt));
}

// The "notice queued" mark (journal record N) survives a restart; a message whose recipient
// bounced owes a notice until it is marked, so start-up does not remove it before.
TEST(Spool, NoticeMarkIsDurable) {
    TempDir tmp;
    std::string id, other;
    {
        auto spool = open_spool(tmp.path());
        id = spool->commit(sample_envelope(), "body").id;
        other = spool->commit(sample_envelope(), "body").id;
        RcptState b;
        b.status = RcptStatus::bounced;
        for (const auto& m : {id, other})
            ASSERT_FALSE(spool->update(m, {{0, b}, {1, testing::delivered(1)}}));
        EXPECT_TRUE(spool->get(id)->notice_owed());
        ASSERT_FALSE(spool->mark_notice(id, "ABCDEFGHIJ0123"));
        EXPECT_FALSE(spool->get(id)->notice_owed());
    }
    auto spool = open_spool(tmp.path());
    EXPECT_EQ(spool->recovery().torn_journals, 0u);
    EXPECT_EQ(spool->get(id)->notice, "ABCDEFGHIJ0123");
    EXPECT_FALSE(spool->get(id)->notice_owed());
    EXPECT_TRUE(spool->get(other)->done());
    EXPECT_TRUE(spool->get(other)->notice_owed());
    ASSERT_FALSE(spool->mark_notice(other, ""));  // the sender gets none
    EXPECT_EQ(spool->get(other)->notice, "none");
}

// The delay notice's mark (record D) survives a restart, is independent of the bounce mark,
// and a file written before D existed (no D record) reads as "none sent yet".
TEST(Spool, DelayNoticeMarkIsDurable) {
    TempDir tmp;
    std::string id, old;
    {
        auto spool = open_spool(tmp.path());
        id = spool->commit(sample_envelope(), "body").id;
        old = spool->commit(sample_envelope(), "body").id;
        RcptState d;
        d.status = RcptStatus::deferred;
        ASSERT_FALSE(spool->update(id, {{0, d}}));
        EXPECT_EQ(spool->get(id)->delay_notice, "");
        ASSERT_FALSE(spool->mark_delay_notice(id, "ABCDEFGHIJ0123"));
        EXPECT_EQ(spool->get(id)->delay_notice, "ABCDEFGHIJ0123");
        ASSERT_FALSE(spool->update(id, {{1, d}}));  // the journal goes on after D
        ASSERT_FALSE(spool->update(old, {{0, d}}));
    }
    auto spool = open_spool(tmp.path());
    EXPECT_EQ(spool->recovery().torn_journals, 0u);
    auto info = spool->get(id);
    EXPECT_EQ(info->delay_notice, "ABCDEFGHIJ0123");
    EXPECT_EQ(info->notice, "");
    EXPECT_EQ(info->rcpts[1].status, RcptStatus::deferred);
    EXPECT_EQ(spool->get(old)->delay_notice, "");
    ASSERT_FALSE(spool->mark_delay_notice(old, ""));  // the sender gets none
    EXPECT_EQ(spool->get(old)->delay_notice, "none");
}

// New mail is refused below min_free_bytes; the notices the relay owes may use that reserve.
TEST(Spool, NoticesMayUseTheReserve) {
    TempDir tmp;
    auto spool = open_spool(tmp.path(), std::uint64_t{1} << 62);
    EXPECT_EQ(spool->commit(sample_envelope(), "new mail").ec,
              make_error_code(SpoolErrc::low_space));
    auto r = spool->commit(sample_envelope(), "a notice", Reserve::may_use);
    EXPECT_FALSE(r.ec) << r.ec.message();
    EXPECT_TRUE(spool->get(r.id));
}

// A message whose body is damaged leaves the queue for corrupt/, and stays out after a restart.
TEST(Spool, MoveToCorrupt) {
    TempDir tmp;
    std::string id;
    {
        auto spool = open_spool(tmp.path());
        id = spool->commit(sample_envelope(), "body").id;
        ASSERT_FALSE(spool->move_to_corrupt(id));
        EXPECT_FALSE(spool->get(id));
        EXPECT_EQ(spool->move_to_corrupt(id), make_error_code(SpoolErrc::not_found));
    }
    EXPECT_TRUE(fs::exists(fs::path(tmp.path()) / "corrupt" / id));
    auto spool = open_spool(tmp.path());
    EXPECT_TRUE(spool->list().empty());
}

TEST(SpoolList, PostqueueLayout) {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
    MessageInfo m;
    m.id = "0HEXAMPLE12345";
    m.body_size = 2048;
    m.envelope = sample_envelope(3);
    m.envelope.arrival_us = 1'763'925'601'000'000LL;  // Sun Nov 23 19:20:01 2025 UTC
    m.rcpts.resize(3);
    m.rcpts[0] = testing::delivered(1);
    m.rcpts[1] = testing::deferred(2, "TLS is required, but was not offered by host mx[192.0.2.1]");
    MessageInfo held = m;
    held.id = "0HEXAMPLE12346";
    held.held = true;
    held.envelope.sender.clear();
    std::string text = format_queue_list({m, held});
    EXPECT_EQ(text,
              "-Queue ID-      --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
              "0HEXAMPLE12345      2048 Sun Nov 23 19:20:01  sender@example.org\n"
              "(TLS is required, but was not offered by host mx[192.0.2.1])\n"
              "                                              user1@example.net\n"
              "                                              user2@example.net\n"
              "\n"
              "0HEXAMPLE12346!     2048 Sun Nov 23 19:20:01  MAILER-DAEMON\n"
              "(TLS is required, but was not offered by host mx[192.0.2.1])\n"
              "                                              user1@example.net\n"
              "                                              user2@example.net\n"
              "\n"
              "-- 4 Kbytes in 2 Requests.\n");
    EXPECT_EQ(format_queue_list({}), "Mail queue is empty\n");
    std::string json = format_queue_json({held});
    ASSERT_EQ(json.back(), '\n');  // one object per line, as postqueue -j
    EXPECT_EQ(std::count(json.begin(), json.end(), '\n'), 1);
    EXPECT_EQ(boost::json::parse(json),
              boost::json::parse(R"({"queue_name": "hold", "queue_id": "0HEXAMPLE12346",
                  "arrival_time": 1763925601, "message_size": 2048, "sender": "",
                  "recipients": [{"address": "user1@example.net", "delay_reason":
                  "TLS is required, but was not offered by host mx[192.0.2.1]"},
                  {"address": "user2@example.net"}]})"));
}

}  // namespace
}  // namespace dr::relay
