// Bodies streamed from the spool (relay/spool/body_source.hpp): pieces of the asked size that
// add up to the body, the CRLF size announced as SIZE, a read(2) failing half-way, a body
// damaged after its check (the CRC is known only at the end), and, against a real SMTP server
// session, that a damaged body never gets the final "." (nothing is stored); and removals
// asked together run as one group (relay/spool/removal_group.hpp).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <set>

#include "relay/spool/async_spool.hpp"
#include "relay/spool/body_source.hpp"
#include "relay/spool/removal_group.hpp"
#include "smtp/client_session.hpp"
#include "smtp/dot_stuff.hpp"
#include "smtp/server_session.hpp"
#include "spool_test_util.hpp"

namespace dr::relay {
namespace {

using namespace testing;
namespace asio = boost::asio;
using namespace std::chrono_literals;

// Fails every pread(2) from the `after`-th one on with EIO, once armed.
class ReadFaultIo : public SpoolIo {
  public:
    std::atomic<int> after{-1};
    std::atomic<int> preads{0};

  protected:
    int inject(SpoolCall c) override {
        if (c != SpoolCall::pread || after < 0) return 0;
        return preads++ >= after ? EIO : 0;
    }
};

// Lines of 76 octets with CRLF, and a few bare LFs so that the CRLF size differs from the size.
std::string make_body(std::size_t lines) {
    std::string b = "Subject: stream\r\n\r\n";
    for (std::size_t i = 0; i < lines; ++i) {
        b += std::string(74, static_cast<char>('a' + i % 26));
        b += i % 1000 == 7 ? "\n" : "\r\n";
    }
    return b;
}

// Runs the loop until `a` is done (other work, e.g. a pending accept, may stay).
template <typename T>
T run(asio::io_context& io, asio::awaitable<T> a) {
    auto f = asio::co_spawn(io, std::move(a), asio::use_future);
    io.restart();
    while (f.wait_for(0s) != std::future_status::ready) io.run_one_for(1s);
    return f.get();
}

struct Pieces {
    std::vector<std::size_t> sizes;
    std::string all;
    bool ended = false;  // got the empty piece
    bool failed = false;
};

asio::awaitable<Pieces> drain(smtp::MessageSource& src) {
    Pieces p;
    for (;;) {
        auto piece = co_await src.next();
        if (!piece) {
            p.failed = true;
            co_return p;
        }
        if (piece->empty()) {
            p.ended = true;
            co_return p;
        }
        p.sizes.push_back(piece->size());
        p.all += *piece;
    }
}

class SpoolStream : public ::testing::Test {
  protected:
    TempDir dir;
    ReadFaultIo io_faults;
    std::unique_ptr<Spool> spool;
    std::unique_ptr<AsyncSpool> async;
    asio::io_context io;

    void SetUp() override {
        std::error_code ec;
        spool = Spool::open({dir.path(), 0, &io_faults}, ec);
        ASSERT_TRUE(spool) << ec.message();
        async = std::make_unique<AsyncSpool>(*spool, 2);
    }
    std::string commit(const std::string& body) {
        auto r = spool->commit(sample_envelope(1), body);
        EXPECT_FALSE(r.ec) << r.ec.message();
        return r.id;
    }
    std::filesystem::path file(const std::string& id) const {
        return std::filesystem::path(dir.path()) / "queue" / id;
    }
    // Flips one octet of the body in place (same size: only the CRC can tell).
    void damage(const std::string& id, std::size_t at) {
        auto f = read_file(file(id));
        f[kSpoolMagic.size() + kRecordHeaderSize + at] ^= 0x20;
        write_file(file(id), f);
    }
};

TEST_F(SpoolStream, PiecesAddUpToTheBodyAndSizeCountsBareLfTwice) {
    const std::string body = make_body(20000);  // ~1.5 MB
    const auto id = commit(body);
    auto check = run(io, check_body(*async, id, 64 * 1024));
    ASSERT_FALSE(check.ec) << check.ec.message();
    EXPECT_EQ(check.facts.size, body.size());
    EXPECT_EQ(check.facts.crlf_size, smtp::crlf_size(body));
    EXPECT_GT(check.facts.crlf_size, body.size());

    auto failure = std::make_shared<std::error_code>();
    SpoolBodySource src(*async, id, check.facts, failure, 64 * 1024);
    EXPECT_EQ(src.size(), smtp::crlf_size(body));
    auto p = run(io, drain(src));
    EXPECT_TRUE(p.ended);
    EXPECT_EQ(p.all, body);
    ASSERT_FALSE(p.sizes.empty());
    for (auto n : p.sizes) EXPECT_LE(n, 64u * 1024);
    EXPECT_EQ(p.sizes.size(), (body.size() + 64 * 1024 - 1) / (64 * 1024));
    EXPECT_FALSE(src.error());
    EXPECT_FALSE(*failure);
}

TEST(CrlfOctets, CrSplitFromItsLfAcrossPieces) {
    bool after_cr = false;
    EXPECT_EQ(crlf_octets("ab\r", after_cr), 3u);
    EXPECT_EQ(crlf_octets("\ncd\n", after_cr), 5u);  // the first LF has its CR, the second not
    EXPECT_EQ(crlf_octets("\n", after_cr), 2u);
}

TEST_F(SpoolStream, ReadErrorHalfWayEndsInNulloptNotTheEnd) {
    const std::string body = make_body(20000);
    const auto id = commit(body);
    auto check = run(io, check_body(*async, id, 64 * 1024));
    ASSERT_FALSE(check.ec);
    io_faults.preads = 0;
    io_faults.after = 6;  // the header, then five pieces, then EIO
    auto failure = std::make_shared<std::error_code>();
    SpoolBodySource src(*async, id, check.facts, failure, 64 * 1024);
    auto p = run(io, drain(src));
    EXPECT_TRUE(p.failed);
    EXPECT_FALSE(p.ended);
    EXPECT_EQ(p.sizes.size(), 5u);
    EXPECT_EQ(src.error(), std::error_code(EIO, std::generic_category()));
    EXPECT_EQ(*failure, src.error());
    // A failed source stays failed.
    auto again = run(io, drain(src));
    EXPECT_TRUE(again.failed);
    // The same fault at the check is a transient error, not damage.
    io_faults.preads = 0;
    io_faults.after = 3;
    auto check2 = run(io, check_body(*async, id, 64 * 1024));
    EXPECT_EQ(check2.ec, std::error_code(EIO, std::generic_category()));
}

// The CRC is checked as the last piece is read, so the piece with the damage is not handed out.
TEST_F(SpoolStream, DamageFoundOnlyAtTheEndWithholdsTheLastPiece) {
    const std::string body = make_body(20000);
    const auto id = commit(body);
    auto check = run(io, check_body(*async, id, 64 * 1024));
    ASSERT_FALSE(check.ec);
    damage(id, body.size() - 10);  // in the last piece, after the check
    auto failure = std::make_shared<std::error_code>();
    SpoolBodySource src(*async, id, check.facts, failure, 64 * 1024);
    auto p = run(io, drain(src));
    EXPECT_TRUE(p.failed);
    EXPECT_FALSE(p.ended);
    const std::size_t piece = 64 * 1024;
    EXPECT_EQ(p.all, body.substr(0, (body.size() - 1) / piece * piece));  // all but the last
    EXPECT_EQ(src.error(), SpoolErrc::corrupt);
    EXPECT_EQ(*failure, SpoolErrc::corrupt);
    EXPECT_EQ(run(io, check_body(*async, id)).ec, SpoolErrc::corrupt);
    std::string whole;
    EXPECT_EQ(spool->read_body(id, whole), SpoolErrc::corrupt);
}

TEST_F(SpoolStream, ABodyOfAnotherSizeThanCheckedIsDamage) {
    const auto id = commit(make_body(100));
    auto check = run(io, check_body(*async, id));
    ASSERT_FALSE(check.ec);
    BodyFacts other = check.facts;
    other.size += 1;
    SpoolBodySource src(*async, id, other);
    EXPECT_TRUE(run(io, drain(src)).failed);
    EXPECT_EQ(src.error(), SpoolErrc::corrupt);
}

TEST_F(SpoolStream, MissingMessageIsNotFound) {
    EXPECT_EQ(run(io, check_body(*async, "0000000000ABCD")).ec, SpoolErrc::not_found);
}

// One pool job for a batch: each body checked as check_body does, a damaged one and a
// missing one with their own errors, the others unaffected.
TEST_F(SpoolStream, CheckBodiesChecksEachOfABatch) {
    const std::string small = make_body(10), big = make_body(2000);
    const auto a = commit(small), b = commit(big), c = commit(small), d = commit(small);
    damage(c, 5);
    std::vector<std::string> ids{a, b, c, "0000000000ABCD", d};  // named: GCC 12 coroutines
    auto checks = run(io, check_bodies(*async, std::move(ids), 64 * 1024));
    ASSERT_EQ(checks.size(), 5u);
    EXPECT_FALSE(checks[0].ec);
    EXPECT_EQ(checks[0].facts.size, small.size());
    EXPECT_EQ(checks[0].facts.crlf_size, smtp::crlf_size(small));
    EXPECT_FALSE(checks[1].ec);
    EXPECT_EQ(checks[1].facts.crlf_size, smtp::crlf_size(big));
    EXPECT_EQ(checks[2].ec, SpoolErrc::corrupt);
    EXPECT_EQ(checks[3].ec, SpoolErrc::not_found);
    EXPECT_FALSE(checks[4].ec);
    EXPECT_EQ(checks[4].facts.crlf_size, smtp::crlf_size(small));
}

// Removals asked in one turn of the loop run as one pool job; each caller gets its own
// result; one asked while a group runs goes in the next group.
TEST_F(SpoolStream, RemovalsAskedTogetherRunAsOneGroup) {
    RemovalGroups groups(io.get_executor(), *async);
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(commit(make_body(3)));
    ids.push_back("0000000000ABCD");  // not queued
    std::vector<std::future<std::error_code>> results;
    for (const auto& id : ids)
        results.push_back(asio::co_spawn(io, groups.remove(id), asio::use_future));
    io.restart();
    auto ready = [&] {
        for (auto& f : results)
            if (f.wait_for(0s) != std::future_status::ready) return false;
        return true;
    };
    while (!ready()) io.run_one_for(1s);
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_FALSE(results[i].get()) << i;
        EXPECT_FALSE(std::filesystem::exists(file(ids[i])));
        EXPECT_FALSE(spool->get(ids[i]));
    }
    EXPECT_EQ(results[5].get(), SpoolErrc::not_found);
    EXPECT_EQ(groups.groups_run(), 1u);

    auto late = commit(make_body(3));
    EXPECT_FALSE(run(io, groups.remove(late)));
    EXPECT_FALSE(std::filesystem::exists(file(late)));
    EXPECT_EQ(groups.groups_run(), 2u);
}

// A sink that keeps what the server session stored.
class KeepSink : public smtp::MessageSink {
  public:
    std::vector<std::string> stored;
    int aborted = 0;
    class Writer : public smtp::MessageWriter {
      public:
        explicit Writer(KeepSink& s) : s_(s) {}
        smtp::awaitable<bool> write(std::string_view c) override {
            data_ += c;
            co_return true;
        }
        smtp::awaitable<smtp::SinkResult> commit() override {
            s_.stored.push_back(data_);
            co_return smtp::SinkResult{true, "KEPT"};
        }
        void abort() override { ++s_.aborted; }

      private:
        KeepSink& s_;
        std::string data_;
    };
    smtp::awaitable<std::unique_ptr<smtp::MessageWriter>> open(const smtp::ClientInfo&,
                                                               const smtp::Envelope&) override {
        co_return std::make_unique<Writer>(*this);
    }
};

class StreamToServer : public SpoolStream {
  protected:
    KeepSink sink;
    smtp::ServerOptions options;
    asio::ip::tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};

    void SetUp() override {
        SpoolStream::SetUp();
        options.hostname = "sink.test";
        options.max_message_size = 64 * 1024 * 1024;
        options.allowed = [](const smtp::ClientInfo&) { return true; };
        options.timeouts.cap(10s);
        asio::co_spawn(io, serve(), asio::detached);
    }
    asio::awaitable<void> serve() {
        auto [ec, s] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
        smtp::ServerSession session(std::move(s), sink, options);
        co_await session.run();
    }
    // One transaction of the queued message over a fresh connection.
    asio::awaitable<smtp::TransactionResult> send(std::string id, BodyFacts facts) {
        smtp::ClientOptions o;
        o.tls = smtp::TlsMode::none;
        o.timeouts.cap(10s);
        smtp::ClientSession c(co_await asio::this_coro::executor, o);
        auto st = co_await c.open(acceptor.local_endpoint());
        EXPECT_TRUE(st.ok()) << st.reason;
        smtp::Envelope env;
        env.sender = "a@example.org";
        env.recipients.push_back({.address = "b@example.net", .notify = "", .orcpt = ""});
        SpoolBodySource src(*async, id, facts);
        auto r = co_await c.send(env, src);
        if (c.usable()) co_await c.quit();
        co_return r;
    }
};

TEST_F(StreamToServer, AGoodBodyArrivesWhole) {
    const std::string body = make_body(30000);  // ~2.3 MB
    const auto id = commit(body);
    auto check = run(io, check_body(*async, id));
    ASSERT_FALSE(check.ec);
    auto r = run(io, send(id, check.facts));
    EXPECT_TRUE(r.status.ok()) << r.status.reason;
    ASSERT_EQ(sink.stored.size(), 1u);
    std::string expected;
    // The server stores CRLF lines: the bare LFs went out as CRLF.
    for (std::size_t pos = 0; pos < body.size(); ++pos) {
        if (body[pos] == '\n' && (pos == 0 || body[pos - 1] != '\r')) expected += '\r';
        expected += body[pos];
    }
    EXPECT_EQ(sink.stored[0], expected);
}

TEST_F(StreamToServer, ADamagedBodyNeverGetsItsFinalDot) {
    const std::string body = make_body(30000);
    const auto id = commit(body);
    auto check = run(io, check_body(*async, id));
    ASSERT_FALSE(check.ec);
    damage(id, body.size() - 100);
    auto r = run(io, send(id, check.facts));
    EXPECT_FALSE(r.status.ok());
    EXPECT_EQ(r.status.dsn, "4.3.0");
    EXPECT_TRUE(sink.stored.empty()) << "a damaged body was delivered as complete";
}

}  // namespace
}  // namespace dr::relay
