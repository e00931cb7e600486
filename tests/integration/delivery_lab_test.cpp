// relay/delivery against the lab (run inside `tests/lab/lab run`): real DNSSEC
// answers from nsd through libunbound, real TLS SMTP sinks. Asserts what the
// sinks received, not only what our code reports: above all, that nothing
// reached a DANE host that did not authenticate (RFC 7672 §2.2).
#include <openssl/sha.h>

#include <gtest/gtest.h>
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "dane/destination.hpp"
#include "dane/session_cache.hpp"
#include "dane/sts_state.hpp"
#include "relay/queue/delivery.hpp"

namespace dr::relay {
namespace {

namespace json = boost::json;

json::value read_json(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return json::parse(ss.str());
}

std::string sha256_hex(const std::string& s) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
    std::string out;
    char buf[3];
    for (auto b : md) {
        std::snprintf(buf, sizeof buf, "%02x", b);
        out += buf;
    }
    return out;
}

class DeliveryLab : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        const char* p = std::getenv("LAB_JSON");
        ASSERT_NE(p, nullptr) << "run inside tests/lab/lab run";
        lab_ = new json::value(read_json(p));
    }
    static void TearDownTestSuite() { delete lab_; }

    DeliveryLab() : tls_(asio::ssl::context::tls_client) {
        dane::enable_dane(tls_.native_handle());
        dns_.unbound_conf = std::getenv("LAB_UNBOUND_CONF");
        dns_.query_timeout = std::chrono::seconds(5);
    }

    OutboundMessage message(const std::string& id, std::vector<std::string> rcpts) {
        OutboundMessage m;
        m.queue_id = id;
        m.envelope.sender = "sender@relay.test";
        for (auto& r : rcpts) m.envelope.recipients.push_back({r, "", ""});
        m.content = "From: sender@relay.test\r\nSubject: " + id + "\r\n\r\nbody of " + id +
                    "\r\n.leading dot\r\n";
        return m;
    }

    AttemptReport send(const std::string& domain, const std::vector<OutboundMessage>& batch,
                       std::size_t address_limit = 5, std::size_t session_limit = 2) {
        asio::io_context io;
        dane::Resolver resolver(io.get_executor(), dns_);
        conf::PolicyConfig policy;
        std::mt19937 rng(7);
        ConnectOptions options;
        options.helo_name = "relay.test";
        options.timeouts.cap(std::chrono::seconds(20));
        options.mx_address_limit = address_limit;
        options.mx_session_limit = session_limit;
        auto fut = asio::co_spawn(
            io,
            [&]() -> asio::awaitable<AttemptReport> {
                auto d = co_await dane::resolve_destination(resolver, domain, policy, rng);
                co_return co_await deliver(d, batch, tls_, options);
            },
            asio::use_future);
        io.run();
        return fut.get();
    }

    // Every connection record the lab's sink `sink` wrote. The sink creates
    // its log empty at start, so a missing or unreadable log (a sink that never
    // started, a wrong path) is a failure, not "no mail".
    std::vector<json::object> sink_log(const std::string& sink) {
        const auto* entry = lab_->at("sinks").as_object().if_contains(sink);
        if (!entry) {
            ADD_FAILURE() << "no sink " << sink << " in lab.json";
            return {};
        }
        std::string path = json::value_to<std::string>(entry->at("log"));
        std::vector<json::object> out;
        std::ifstream in(path);
        if (!in) {
            ADD_FAILURE() << "sink " << sink << ": cannot read its log " << path;
            return {};
        }
        for (std::string line; std::getline(in, line);)
            if (!line.empty()) out.push_back(json::parse(line).as_object());
        return out;
    }

    void expect_no_mail(const std::string& sink) {
        for (const auto& rec : sink_log(sink)) {
            EXPECT_TRUE(rec.at("messages").as_array().empty()) << sink;
            for (const auto& c : rec.at("commands").as_array())
                EXPECT_NE(json::value_to<std::string>(c), "MAIL") << sink;
        }
    }

    static json::value* lab_;
    conf::DnsConfig dns_;
    asio::ssl::context tls_;
};

json::value* DeliveryLab::lab_ = nullptr;

TEST_F(DeliveryLab, DaneEeDeliversOverVerifiedTlsWithTheRightSni) {
    auto m = message("QIDEEGOOD01", {"a@ee-good.test", "b@ee-good.test"});
    auto r = send("ee-good.test", {m});
    ASSERT_EQ(r.recipients.size(), 2u);
    for (const auto& rr : r.recipients) {
        EXPECT_EQ(rr.state, RecipientState::sent) << rr.text;
        EXPECT_EQ(rr.dsn, "2.0.0");
        EXPECT_EQ(rr.tls, dane::TlsTrust::verified);
        EXPECT_TRUE(rr.relay.starts_with("mx.ee-good.test[")) << rr.relay;
        EXPECT_TRUE(rr.text.starts_with("250 2.0.0 Ok: queued as")) << rr.text;
    }
    auto log = sink_log("mx.ee-good.test");
    ASSERT_EQ(log.size(), 1u);
    EXPECT_TRUE(log[0].at("tls").as_bool());
    EXPECT_EQ(log[0].at("sni").as_string(), "mx.ee-good.test");
    const auto& msgs = log[0].at("messages").as_array();
    ASSERT_EQ(msgs.size(), 1u);
    const auto& got = msgs[0].as_object();
    EXPECT_TRUE(got.at("tls").as_bool());
    EXPECT_EQ(got.at("rcpt_to").as_array().size(), 2u);
    EXPECT_EQ(json::value_to<std::string>(got.at("sha256")), sha256_hex(m.content));
}

TEST_F(DeliveryLab, TlsaMismatchDefersAndSendsNothing) {
    auto r = send("ee-badhex.test", {message("QIDBADHEX01", {"a@ee-badhex.test"})});
    ASSERT_EQ(r.recipients.size(), 1u);
    EXPECT_EQ(r.recipients[0].state, RecipientState::deferred);
    EXPECT_EQ(r.recipients[0].dsn, "4.7.5");
    EXPECT_EQ(r.recipients[0].text, "Server certificate not verified");
    expect_no_mail("mx.ee-badhex.test");
}

TEST_F(DeliveryLab, DaneHostWithoutStarttlsNeverGetsPlaintext) {
    auto r = send("no-starttls.test", {message("QIDNOTLS001", {"a@no-starttls.test"})});
    ASSERT_EQ(r.recipients.size(), 1u);
    EXPECT_EQ(r.recipients[0].state, RecipientState::deferred);
    EXPECT_EQ(r.recipients[0].dsn, "4.7.4");
    EXPECT_TRUE(r.recipients[0].text.starts_with(
        "TLS is required, but was not offered by host mx.no-starttls.test["))
        << r.recipients[0].text;
    expect_no_mail("mx.no-starttls.test");
}

TEST_F(DeliveryLab, WrongTaNameDefers) {
    auto r = send("ta-badname.test", {message("QIDTABAD001", {"a@ta-badname.test"})});
    EXPECT_EQ(r.recipients.at(0).state, RecipientState::deferred);
    EXPECT_EQ(r.recipients.at(0).dsn, "4.7.5");
    expect_no_mail("mx.ta-badname.test");
}

TEST_F(DeliveryLab, NextMxAfterAMismatch) {
    auto r = send("two-mx.test", {message("QIDTWOMX001", {"a@two-mx.test"})});
    ASSERT_EQ(r.recipients.size(), 1u);
    EXPECT_EQ(r.recipients[0].state, RecipientState::sent);
    EXPECT_TRUE(r.recipients[0].relay.starts_with("mx2.two-mx.test[")) << r.recipients[0].relay;
    expect_no_mail("mx1.two-mx.test");
}

TEST_F(DeliveryLab, SeveralMessagesReuseOneConnection) {
    std::vector<OutboundMessage> batch;
    for (int i = 0; i < 3; ++i)
        batch.push_back(message("QIDREUSE00" + std::to_string(i), {"r@ta-good.test"}));
    auto r = send("ta-good.test", batch);
    ASSERT_EQ(r.recipients.size(), 3u);
    std::vector<int> uses;
    for (const auto& rr : r.recipients) {
        EXPECT_EQ(rr.state, RecipientState::sent) << rr.text;
        uses.push_back(rr.conn_use);
    }
    EXPECT_EQ(uses, (std::vector<int>{1, 2, 3}));
    auto log = sink_log("mx.ta-good.test");
    ASSERT_EQ(log.size(), 1u) << "one connection for the whole batch";
    EXPECT_EQ(log[0].at("messages").as_array().size(), 3u);
}

// SPEC §4 connection cache: a connection parked after one attempt carries the next attempt to
// the same destination and TLS plan (conn_use goes on counting, the sink sees one connection);
// a changed TLSA RRset, or an idle time past the limit, gets a new connection.
TEST_F(DeliveryLab, ConnectionCacheReusesOnlyForTheSamePlan) {
    const std::string sink = "mx.ee-good.test";
    const auto before = sink_log(sink).size();
    asio::io_context io;
    dane::Resolver resolver(io.get_executor(), dns_);
    ConnectionCache cache(io.get_executor(),
                          {std::chrono::milliseconds(1000), std::chrono::milliseconds(60'000), 10});
    ConnectOptions options;
    options.helo_name = "relay.test";
    options.timeouts.cap(std::chrono::seconds(20));
    std::vector<int> uses;
    std::vector<std::size_t> parked;
    auto run = [&]() -> asio::awaitable<void> {
        std::mt19937 rng(7);
        auto d = co_await dane::resolve_destination(resolver, "ee-good.test", {}, rng);
        auto attempt = [&](const dane::Destination& dest, std::string id) -> asio::awaitable<void> {
            const std::vector<OutboundMessage> batch{message(id, {"c@ee-good.test"})};
            auto r = co_await deliver(dest, batch, tls_, options, {}, &cache);
            EXPECT_EQ(r.recipients.at(0).state, RecipientState::sent) << r.recipients.at(0).text;
            uses.push_back(r.recipients.at(0).conn_use);
            parked.push_back(cache.size());
        };
        co_await attempt(d, "QIDCACHE001");
        co_await attempt(d, "QIDCACHE002");  // the parked connection
        auto changed = d;                    // one more record in the TLSA RRset
        if (changed.hosts.at(0).plan.tlsa.empty()) {
            ADD_FAILURE() << "ee-good.test has no TLSA records";
            co_return;
        }
        auto extra = changed.hosts.at(0).plan.tlsa.front();
        extra.data.assign(extra.data.size(), 0);
        changed.hosts.at(0).plan.tlsa.push_back(extra);
        co_await attempt(changed, "QIDCACHE003");
        asio::steady_timer t(io);
        t.expires_after(std::chrono::milliseconds(1600));
        co_await t.async_wait(asio::use_awaitable);
        co_await attempt(d, "QIDCACHE004");  // idle past the limit: closed, a new one
        cache.close_all();
    };
    auto fut = asio::co_spawn(io, run, asio::use_future);
    io.run();
    fut.get();
    EXPECT_EQ(uses, (std::vector<int>{1, 2, 1, 1}));
    EXPECT_EQ(parked, (std::vector<std::size_t>{1, 1, 2, 1}));
    // The sink writes a connection's record when it closes.
    std::vector<json::object> log;
    for (int i = 0; i < 50 && (log = sink_log(sink)).size() < before + 3; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_EQ(log.size(), before + 3) << "three connections for four attempts";
    std::vector<std::size_t> per_connection;
    for (auto i = before; i < log.size(); ++i)
        per_connection.push_back(log[i].at("messages").as_array().size());
    std::sort(per_connection.begin(), per_connection.end());
    EXPECT_EQ(per_connection, (std::vector<std::size_t>{1, 1, 2}));
}

// SPEC §5.6 TLS session resumption through deliver(), against the lab's Python sink (its own
// TLS stack): the second attempt under the same TLSA RRset resumes (the sink says so) and is
// still logged "Verified", without a new match line; a changed RRset (one more record) makes
// a full, verified handshake, whose session the next attempt under that RRset resumes.
TEST_F(DeliveryLab, TlsSessionsResumeOnlyUnderTheSameTlsaRrset) {
    const std::string sink = "mx.ee-good.test";
    const auto before = sink_log(sink).size();
    dane::SessionCache sessions;
    dane::SessionCache::attach(tls_.native_handle());
    asio::io_context io;
    dane::Resolver resolver(io.get_executor(), dns_);
    std::vector<std::string> lines;
    ConnectOptions options;
    options.helo_name = "relay.test";
    options.timeouts.cap(std::chrono::seconds(20));
    options.sessions = &sessions;
    options.log = [&lines](const std::string& l) { lines.push_back(l); };
    std::vector<std::vector<std::string>> lines_of;  // per attempt
    std::vector<bool> resumed;
    auto run = [&]() -> asio::awaitable<void> {
        std::mt19937 rng(7);
        auto d = co_await dane::resolve_destination(resolver, "ee-good.test", {}, rng);
        auto attempt = [&](const dane::Destination& dest, std::string id) -> asio::awaitable<void> {
            lines.clear();
            const std::vector<OutboundMessage> batch{message(id, {"r@ee-good.test"})};
            auto r = co_await deliver(dest, batch, tls_, options);
            EXPECT_EQ(r.recipients.at(0).state, RecipientState::sent) << r.recipients.at(0).text;
            EXPECT_EQ(r.recipients.at(0).tls, dane::TlsTrust::verified) << id;
            const auto& tls = r.connections.at(0).tls;
            resumed.push_back(tls && tls->resumed);
            lines_of.push_back(lines);
        };
        co_await attempt(d, "QIDRESUME01");
        co_await attempt(d, "QIDRESUME02");
        auto changed = d;  // one more record in the TLSA RRset (it matches nothing)
        if (changed.hosts.at(0).plan.tlsa.empty()) {
            ADD_FAILURE() << "ee-good.test has no TLSA records";
            co_return;
        }
        auto extra = changed.hosts.at(0).plan.tlsa.front();
        extra.data.assign(extra.data.size(), 0);
        changed.hosts.at(0).plan.tlsa.push_back(extra);
        co_await attempt(changed, "QIDRESUME03");
        co_await attempt(changed, "QIDRESUME04");
    };
    auto fut = asio::co_spawn(io, run, asio::use_future);
    io.run();
    fut.get();
    EXPECT_EQ(resumed, (std::vector<bool>{false, true, false, true}));
    ASSERT_EQ(lines_of.size(), 4u);
    for (std::size_t i = 0; i < lines_of.size(); ++i) {
        ASSERT_FALSE(lines_of[i].empty()) << i;
        EXPECT_TRUE(
            lines_of[i][0].starts_with("Verified TLS connection established to " + sink + "["))
            << lines_of[i][0];
        const bool match_line =
            lines_of[i].size() > 1 && lines_of[i][1].find("Matched DANE") != std::string::npos;
        EXPECT_EQ(match_line, !resumed[i]) << i;  // Postfix logs no match for a reused session
    }
    std::vector<json::object> log;
    for (int i = 0; i < 50 && (log = sink_log(sink)).size() < before + 4; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_EQ(log.size(), before + 4);
    std::vector<bool> at_sink;
    for (auto i = before; i < log.size(); ++i)
        at_sink.push_back(log[i].at("session_reused").is_bool() &&
                          log[i].at("session_reused").as_bool());
    EXPECT_EQ(at_sink, (std::vector<bool>{false, true, false, true}));
}

// Issue 12's TXT lookups through the validating resolver: the _mta-sts RRset (an STSv1 record
// beside another) gives the policy id; the _smtp._tls record's two strings are joined; a name
// without the record is none, securely denied.
TEST_F(DeliveryLab, TxtLookupsForMtaStsAndTlsrpt) {
    asio::io_context io;
    dane::Resolver resolver(io.get_executor(), dns_);
    dane::Lookup<std::string> sts, rpt, missing;
    auto run = [&]() -> asio::awaitable<void> {
        auto a = resolver.txt("_mta-sts.ee-good.test");
        auto b = resolver.txt("_smtp._tls.ee-good.test");
        auto c = resolver.txt("_mta-sts.ee-301.test");
        sts = co_await a.get();
        rpt = co_await b.get();
        missing = co_await c.get();
    };
    asio::co_spawn(io, run(), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
    io.run();
    EXPECT_TRUE(sts.secure()) << sts.why;
    EXPECT_EQ(sts.records.size(), 2u);
    auto chosen = dane::sts_txt_from(sts);
    EXPECT_EQ(chosen.kind, dane::StsTxt::Kind::record) << chosen.why;
    EXPECT_EQ(chosen.id, "lab20261203");
    ASSERT_EQ(rpt.records.size(), 1u);
    EXPECT_EQ(rpt.records[0], "v=TLSRPTv1; rua=mailto:tlsrpt@ee-good.test");
    auto report = dane::choose_tlsrpt_record(rpt.records);
    EXPECT_TRUE(report) << report.error;
    EXPECT_TRUE(missing.secure());
    EXPECT_EQ(missing.outcome, dane::Outcome::nxdomain);
    EXPECT_EQ(dane::sts_txt_from(missing).kind, dane::StsTxt::Kind::none);
}

TEST_F(DeliveryLab, PerRecipientReplies) {
    auto reject = send("rcpt-reject.test", {message("QIDREJECT01", {"x@rcpt-reject.test"})});
    EXPECT_EQ(reject.recipients.at(0).state, RecipientState::bounced);
    EXPECT_EQ(reject.recipients.at(0).dsn, "5.1.1");
    EXPECT_NE(reject.recipients.at(0).text.find("said: 550 5.1.1"), std::string::npos);
    auto temp = send("rcpt-tempfail.test", {message("QIDTEMP0001", {"x@rcpt-tempfail.test"})});
    EXPECT_EQ(temp.recipients.at(0).state, RecipientState::deferred);
    EXPECT_EQ(temp.recipients.at(0).dsn, "4.3.0");
    auto data = send("data-tempfail.test", {message("QIDDATA0001", {"x@data-tempfail.test"})});
    EXPECT_EQ(data.recipients.at(0).state, RecipientState::deferred);
    EXPECT_EQ(data.recipients.at(0).dsn, "4.3.0");
}

// SPEC §12, Postfix's smtp_mx_address_limit and smtp_mx_session_limit: a host that defers
// every recipient after the handshake is tried on each of its addresses only within both
// limits; a host that fails the handshake (DANE mismatch) does not use up a session.
TEST_F(DeliveryLab, AddressAndSessionLimits) {
    auto msg = [&] { return std::vector{message("QIDLIMIT001", {"x@rcpt-tempfail.test"})}; };
    auto all = send("rcpt-tempfail.test", msg(), 0, 0);
    ASSERT_GE(all.connections.size(), 2u) << "the host needs two addresses for this test";
    EXPECT_EQ(send("rcpt-tempfail.test", msg(), 0, 1).connections.size(), 1u);
    EXPECT_EQ(send("rcpt-tempfail.test", msg(), 1, 0).connections.size(), 1u);
    auto r = send("rcpt-tempfail.test", msg(), 0, 1);
    EXPECT_EQ(r.recipients.at(0).state, RecipientState::deferred);
    auto two = send("two-mx.test", {message("QIDLIMIT002", {"b@two-mx.test"})}, 0, 1);
    EXPECT_GE(two.connections.size(), 2u);
    EXPECT_EQ(two.recipients.at(0).state, RecipientState::sent);
}

TEST_F(DeliveryLab, DnsVerdicts) {
    auto null_mx = send("null-mx.test", {message("QIDNULLMX01", {"a@null-mx.test"})});
    EXPECT_EQ(null_mx.recipients.at(0).state, RecipientState::bounced);
    EXPECT_EQ(null_mx.recipients.at(0).dsn, "5.1.10");
    EXPECT_EQ(null_mx.recipients.at(0).relay, "none");
    auto nx = send("nxdomain.test", {message("QIDNXDOM001", {"a@nxdomain.test"})});
    EXPECT_EQ(nx.recipients.at(0).state, RecipientState::bounced);
    EXPECT_EQ(nx.recipients.at(0).dsn, "5.4.4");
    auto bogus = send("bogus-mx.test", {message("QIDBOGUS001", {"a@bogus-mx.test"})});
    EXPECT_EQ(bogus.recipients.at(0).state, RecipientState::deferred);
    EXPECT_EQ(bogus.recipients.at(0).dsn, "4.4.3");
    auto tlsa = send("bogus-tlsa.test", {message("QIDBOGUST01", {"a@bogus-tlsa.test"})});
    EXPECT_EQ(tlsa.recipients.at(0).state, RecipientState::deferred);
    EXPECT_EQ(tlsa.recipients.at(0).text, "TLSA lookup error for mx.bogus-tlsa.test:25");
    expect_no_mail("mx.bogus-tlsa.test");
}

TEST_F(DeliveryLab, OpportunisticAndHalfDane) {
    auto may = send("unsigned.test", {message("QIDUNSIGN01", {"a@unsigned.test"})});
    EXPECT_EQ(may.recipients.at(0).state, RecipientState::sent);
    EXPECT_EQ(may.recipients.at(0).tls, dane::TlsTrust::untrusted);
    auto half = send("insecure-mx.test", {message("QIDHALF0001", {"a@insecure-mx.test"})});
    EXPECT_EQ(half.recipients.at(0).state, RecipientState::sent);
    EXPECT_EQ(half.recipients.at(0).tls, dane::TlsTrust::trusted);
}

}  // namespace
}  // namespace dr::relay
