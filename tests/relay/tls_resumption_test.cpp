// SPEC §5.6 TLS session resumption, with real TLS on loopback: connect_host() (the relay's
// connection code, with a dane::SessionCache) twice against a STARTTLS server made here, whose
// OpenSSL context is shared by all its listeners (so it would resume any session it is
// offered). The server reports SSL_session_reused for each handshake. Resumed: the same host,
// address, port and TLSA RRset. Not resumed: the RRset changed (a record added, or replaced by
// another that still matches), another port or address, a failed verification, an expired or
// evicted entry. Run at TLS 1.3 (tickets after the handshake) and TLS 1.2 (sessions during it).
// Also session_key() itself: what goes into it and what does not.
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <string>
#include <vector>

#include "dane/session_cache.hpp"
#include "relay/metrics/metrics.hpp"
#include "relay/queue/connect.hpp"

namespace dr::relay {
namespace {

namespace ssl = asio::ssl;
using asio::ip::tcp;
using Tuple = asio::as_tuple_t<asio::use_awaitable_t<>>;
constexpr Tuple use_tuple{};

template <class T, void (*F)(T*)>
struct Free {
    void operator()(T* p) const { F(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Free<X509, X509_free>>;

constexpr const char* kHost = "mx.resume.test";

Cert self_signed(EVP_PKEY* key) {
    Cert x(X509_new());
    X509_set_version(x.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 86400);
    X509_NAME* name = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(kHost), -1, -1, 0);
    X509_set_issuer_name(x.get(), name);
    X509_set_pubkey(x.get(), key);
    X509_sign(x.get(), key, EVP_sha256());
    return x;
}

std::vector<std::uint8_t> sha256_of(const unsigned char* p, std::size_t n) {
    std::vector<std::uint8_t> md(32);
    unsigned int len = 0;
    EVP_Digest(p, n, md.data(), &len, EVP_sha256(), nullptr);
    return md;
}

// 3 1 1 (the key) and 3 0 1 (the whole certificate): two records that both match.
dane::TlsaRecord spki_record(X509* x) {
    unsigned char* der = nullptr;
    int n = i2d_PUBKEY(X509_get0_pubkey(x), &der);
    auto r = dane::TlsaRecord{3, 1, 1, sha256_of(der, static_cast<std::size_t>(n))};
    OPENSSL_free(der);
    return r;
}

dane::TlsaRecord cert_record(X509* x) {
    unsigned char* der = nullptr;
    int n = i2d_X509(x, &der);
    auto r = dane::TlsaRecord{3, 0, 1, sha256_of(der, static_cast<std::size_t>(n))};
    OPENSSL_free(der);
    return r;
}

dane::IpAddress ipv4(std::uint8_t last) {
    dane::IpAddress a;
    a.bytes[0] = 127;
    a.bytes[3] = last;
    return a;
}

dane::HostPlan dane_plan(std::vector<dane::TlsaRecord> tlsa) {
    dane::HostPlan p;
    p.host = kHost;
    p.tls = dane::TlsRequirement::dane;
    p.tlsa_base = kHost;
    p.match_names = {kHost, "resume.test"};
    p.tlsa = std::move(tlsa);
    p.address_security = dane::Security::secure;
    p.tlsa_security = dane::Security::secure;
    return p;
}

// A STARTTLS server: greeting, EHLO, STARTTLS, handshake, EHLO, QUIT; one connection per
// serve_one(). Every listener shares one OpenSSL context (and so its ticket keys).
class Server {
  public:
    explicit Server(int version) : tls_(ssl::context::tls_server) {
        SSL_CTX* ctx = tls_.native_handle();
        SSL_CTX_set_min_proto_version(ctx, version);
        SSL_CTX_set_max_proto_version(ctx, version);
        EXPECT_EQ(SSL_CTX_use_certificate(ctx, cert_.get()), 1);
        EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx, key_.get()), 1);
    }

    X509* cert() const { return cert_.get(); }
    std::vector<bool> reused;  // one per completed handshake, in order

    asio::awaitable<void> serve_one(tcp::acceptor& a) {
        auto [ec, sock] = co_await a.async_accept(use_tuple);
        if (ec) co_return;
        asio::streambuf buf;
        co_await say(sock, "220 " + std::string(kHost) + " ESMTP\r\n");
        co_await hear(sock, buf);  // EHLO
        co_await say(sock, "250-" + std::string(kHost) + "\r\n250 STARTTLS\r\n");
        co_await hear(sock, buf);  // STARTTLS
        co_await say(sock, "220 2.0.0 Ready to start TLS\r\n");
        ssl::stream<tcp::socket&> s(sock, tls_);
        auto [hec] = co_await s.async_handshake(ssl::stream_base::server, use_tuple);
        if (hec) co_return;
        reused.push_back(SSL_session_reused(s.native_handle()) == 1);
        asio::streambuf tbuf;
        co_await hear(s, tbuf);  // EHLO
        co_await say(s, "250-" + std::string(kHost) + "\r\n250 PIPELINING\r\n");
        co_await hear(s, tbuf);  // QUIT (or nothing: a client that gave up)
        co_await say(s, "221 2.0.0 Bye\r\n");
    }

  private:
    template <class Stream>
    static asio::awaitable<void> say(Stream& s, std::string text) {
        co_await asio::async_write(s, asio::buffer(text), use_tuple);
    }
    template <class Stream>
    static asio::awaitable<void> hear(Stream& s, asio::streambuf& buf) {
        auto [ec, n] = co_await asio::async_read_until(s, buf, "\r\n", use_tuple);
        if (!ec) buf.consume(n);
    }

    Key key_{EVP_EC_gen("P-256")};
    Cert cert_{self_signed(key_.get())};
    ssl::context tls_;
};

struct Result {
    smtp::DeliveryStatus status;
    std::optional<dane::TlsOutcome> tls;
    std::vector<std::string> log;
};

class TlsResumption : public ::testing::TestWithParam<int> {
  protected:
    TlsResumption() : server_(GetParam()), client_(ssl::context::tls_client) {
        dane::enable_dane(client_.native_handle());
        dane::SessionCache::attach(client_.native_handle());
    }

    tcp::acceptor& listen(std::uint8_t last) {
        auto addr = asio::ip::make_address("127.0.0." + std::to_string(last));
        acceptors_.push_back(std::make_unique<tcp::acceptor>(io_, tcp::endpoint(addr, 0)));
        return *acceptors_.back();
    }

    asio::awaitable<Result> client(dane::HostPlan plan, dane::IpAddress address, std::uint16_t port,
                                   dane::SessionCache* cache, bool quit) {
        ConnectOptions o;
        o.helo_name = "relay.test";
        o.timeouts.cap(std::chrono::seconds(10));
        o.sessions = cache;
        o.metrics = &metrics_;
        auto c = co_await connect_host(plan, address, port, client_, o);
        if (quit && c.session && c.session->usable()) co_await c.session->quit();
        co_return Result{c.status, c.tls, c.log};
    }

    // One connection from connect_host() to the listener `a` (on 127.0.0.<last>).
    // Without `quit`, the session is dropped after EHLO, as the connection cache drops an idle
    // connection.
    Result connect(const dane::HostPlan& plan, tcp::acceptor& a, dane::SessionCache& cache,
                   bool quit = true) {
        asio::co_spawn(io_, server_.serve_one(a), asio::detached);
        auto ep = a.local_endpoint();
        auto addr = ipv4(ep.address().to_v4().to_bytes()[3]);
        auto fut =
            asio::co_spawn(io_, client(plan, addr, ep.port(), &cache, quit), asio::use_future);
        io_.restart();
        io_.run();
        return fut.get();
    }

    bool resumed(const Result& r) const { return r.tls && r.tls->resumed; }

    asio::io_context io_;
    Server server_;
    ssl::context client_;
    Metrics metrics_;
    std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
    dane::SessionCache cache_;
};

TEST_P(TlsResumption, SameRrsetSameAddressIsResumedAndLoggedVerified) {
    auto plan = dane_plan({spki_record(server_.cert())});
    auto& a = listen(1);
    auto first = connect(plan, a, cache_);
    ASSERT_TRUE(first.status.ok()) << first.status.reason;
    EXPECT_EQ(cache_.size(), 1u);
    auto second = connect(plan, a, cache_);
    ASSERT_TRUE(second.status.ok()) << second.status.reason;
    EXPECT_EQ(server_.reused, (std::vector<bool>{false, true}));
    ASSERT_TRUE(second.tls);
    EXPECT_TRUE(second.tls->resumed);
    EXPECT_FALSE(second.tls->failure);
    EXPECT_EQ(second.tls->trust, dane::TlsTrust::verified);
    EXPECT_EQ(metrics_.tls_resumed_count(), 1u);
    // Postfix logs the same line for a resumed session, and no match (none was made).
    const std::string peer =
        std::string(kHost) + "[127.0.0.1]:" + std::to_string(a.local_endpoint().port());
    ASSERT_EQ(first.log.size(), 2u);
    EXPECT_TRUE(first.log[1].starts_with(peer + ": Matched DANE EE certificate at depth 0: 3 1 1"))
        << first.log[1];
    ASSERT_EQ(second.log.size(), 1u);
    EXPECT_TRUE(
        second.log[0].starts_with("Verified TLS connection established to " + peer + ": TLSv1."))
        << second.log[0];
}

// OpenSSL marks the session of an SSL freed without a shutdown as not resumable; a
// connection dropped while usable (a parked one past its idle time) counts as a clean end.
TEST_P(TlsResumption, ConnectionDroppedWithoutQuitWhileUsableStillResumes) {
    auto plan = dane_plan({spki_record(server_.cert())});
    auto& a = listen(1);
    ASSERT_TRUE(connect(plan, a, cache_, false).status.ok());
    EXPECT_TRUE(resumed(connect(plan, a, cache_, false)));
    EXPECT_TRUE(resumed(connect(plan, a, cache_)));
}

TEST_P(TlsResumption, AddedTlsaRecordIsNotResumedButVerifiedAfresh) {
    auto& a = listen(1);
    ASSERT_TRUE(connect(dane_plan({spki_record(server_.cert())}), a, cache_).status.ok());
    auto changed = dane_plan({spki_record(server_.cert()), cert_record(server_.cert())});
    auto second = connect(changed, a, cache_);
    ASSERT_TRUE(second.status.ok()) << second.status.reason;
    EXPECT_EQ(server_.reused, (std::vector<bool>{false, false}));
    EXPECT_FALSE(resumed(second));
    EXPECT_EQ(second.tls->trust, dane::TlsTrust::verified);
    ASSERT_EQ(second.log.size(), 2u);  // a full verification: the match is logged again
    EXPECT_NE(second.log[1].find("Matched DANE EE certificate"), std::string::npos);
    // And the new RRset's own session is resumed next time.
    EXPECT_TRUE(resumed(connect(changed, a, cache_)));
}

TEST_P(TlsResumption, ReplacedTlsaRecordThatStillMatchesIsNotResumed) {
    auto& a = listen(1);
    ASSERT_TRUE(connect(dane_plan({spki_record(server_.cert())}), a, cache_).status.ok());
    auto second = connect(dane_plan({cert_record(server_.cert())}), a, cache_);
    ASSERT_TRUE(second.status.ok()) << second.status.reason;
    EXPECT_EQ(server_.reused, (std::vector<bool>{false, false}));
    EXPECT_FALSE(resumed(second));
    ASSERT_TRUE(second.tls && second.tls->matched);
    EXPECT_EQ(second.tls->matched->selector, 0);  // matched by the new record itself
}

TEST_P(TlsResumption, AnotherPortOrAddressIsNotResumedInto) {
    auto plan = dane_plan({spki_record(server_.cert())});
    auto& a = listen(1);
    auto& other_port = listen(1);
    auto& other_address = listen(2);
    ASSERT_TRUE(connect(plan, a, cache_).status.ok());
    EXPECT_FALSE(resumed(connect(plan, other_port, cache_)));
    EXPECT_FALSE(resumed(connect(plan, other_address, cache_)));
    EXPECT_TRUE(resumed(connect(plan, a, cache_)));  // the server would have resumed it
    EXPECT_EQ(server_.reused, (std::vector<bool>{false, false, false, true}));
}

TEST_P(TlsResumption, SessionOfAFailedVerificationIsNeverCached) {
    auto wrong = spki_record(server_.cert());
    wrong.data[0] ^= 0xff;
    auto plan = dane_plan({wrong});
    auto& a = listen(1);
    auto first = connect(plan, a, cache_);
    EXPECT_EQ(first.status.dsn, "4.7.5");
    EXPECT_EQ(first.status.reason, "Server certificate not verified");
    EXPECT_EQ(cache_.size(), 0u);
    auto second = connect(plan, a, cache_);
    EXPECT_EQ(second.status.reason, "Server certificate not verified");
    EXPECT_FALSE(resumed(second));
    EXPECT_EQ(server_.reused, (std::vector<bool>{false, false}));
}

TEST_P(TlsResumption, ExpiredAndEvictedEntriesAreNotResumed) {
    auto plan = dane_plan({spki_record(server_.cert())});
    auto& a = listen(1);
    auto& b = listen(1);
    dane::SessionCache expiring({10, std::chrono::seconds(0)});
    ASSERT_TRUE(connect(plan, a, expiring).status.ok());
    EXPECT_FALSE(resumed(connect(plan, a, expiring)));
    dane::SessionCache one({1, std::chrono::seconds(3600)});
    ASSERT_TRUE(connect(plan, a, one).status.ok());
    ASSERT_TRUE(connect(plan, b, one).status.ok());  // pushes out a's session
    EXPECT_EQ(one.size(), 1u);
    EXPECT_FALSE(resumed(connect(plan, a, one)));
}

TEST_P(TlsResumption, OpportunisticSessionsAreResumedUnderTheirOwnLevel) {
    dane::HostPlan may;
    may.host = kHost;
    may.tls = dane::TlsRequirement::may;
    auto& a = listen(1);
    ASSERT_TRUE(connect(may, a, cache_).status.ok());
    auto second = connect(may, a, cache_);
    ASSERT_TRUE(second.status.ok()) << second.status.reason;
    EXPECT_TRUE(resumed(second));
    EXPECT_EQ(second.tls->trust, dane::TlsTrust::untrusted);
    // A DANE plan for the same host and address does not take the "may" session.
    EXPECT_FALSE(resumed(connect(dane_plan({spki_record(server_.cert())}), a, cache_)));
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsResumption, ::testing::Values(TLS1_3_VERSION, TLS1_2_VERSION),
                         [](const auto& info) {
                             return info.param == TLS1_3_VERSION ? "Tls13" : "Tls12";
                         });

// ---- the key alone ----------------------------------------------------------------------

dane::TlsaRecord record(std::uint8_t usage, std::uint8_t first) {
    return {usage, 1, 1, std::vector<std::uint8_t>(32, first)};
}

TEST(SessionKey, TheRrsetIsASetAndEveryInputCounts) {
    auto base = dane_plan({record(3, 1), record(2, 2)});
    const auto key = dane::session_key(base, "192.0.2.1", 25);
    auto permuted = dane_plan({record(2, 2), record(3, 1), record(3, 1)});
    EXPECT_EQ(dane::session_key(permuted, "192.0.2.1", 25), key);

    auto added = dane_plan({record(3, 1), record(2, 2), record(3, 3)});
    auto replaced = dane_plan({record(3, 1), record(2, 4)});
    auto sni = base;
    sni.tlsa_base = "mx2.resume.test";
    auto half = base;
    half.half_dane = true;
    auto names = base;
    names.match_names.push_back("other.test");
    auto host = base;
    host.host = "mx2.resume.test";
    auto level = base;
    level.tls = dane::TlsRequirement::encrypt;
    for (const auto* p : {&added, &replaced, &sni, &half, &names, &host, &level})
        EXPECT_NE(dane::session_key(*p, "192.0.2.1", 25), key) << dane::session_key(*p, "x", 25);
    EXPECT_NE(dane::session_key(base, "192.0.2.2", 25), key);
    EXPECT_NE(dane::session_key(base, "192.0.2.1", 26), key);
    // Every byte of a record counts.
    auto data = base;
    data.tlsa[0].data.back() ^= 1;
    EXPECT_NE(dane::session_key(data, "192.0.2.1", 25), key);
}

TEST(SessionKey, NoNameCanPoseAsSeveralFields) {
    auto one = dane_plan({record(3, 1)});
    one.match_names = {"a.test b.test"};
    auto two = one;
    two.match_names = {"a.test", "b.test"};
    EXPECT_NE(dane::session_key(one, "192.0.2.1", 25), dane::session_key(two, "192.0.2.1", 25));
    auto host = one;
    host.host = one.host + " addr=9:192.0.2.1";
    EXPECT_NE(dane::session_key(host, "", 25), dane::session_key(one, "192.0.2.1", 25));
}

TEST(SessionKey, DigestSeparatesRecordBoundaries) {
    // The same bytes split differently between two records give different digests.
    std::vector<dane::TlsaRecord> a{{3, 1, 1, {1, 2, 3}}, {3, 1, 1, {4}}};
    std::vector<dane::TlsaRecord> b{{3, 1, 1, {1, 2}}, {3, 1, 1, {3, 4}}};
    EXPECT_NE(dane::tlsa_rrset_digest(a), dane::tlsa_rrset_digest(b));
    EXPECT_EQ(dane::tlsa_rrset_digest(a).size(), 64u);
}

}  // namespace
}  // namespace dr::relay
