// The client session against a real Postfix smtpd started by the test (tests/smtp/postfix-peer):
// STARTTLS (opportunistic, required, DANE match and mismatch), PIPELINING and not,
// per-recipient results, rejects at MAIL, RCPT and end of data, reuse after RSET, and
// connection failures against loopback sockets the test opens itself.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "smtp/client_session.hpp"

using namespace dr::smtp;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const auto kLoopback = asio::ip::make_address("127.0.0.1");

std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool port_free(unsigned short port) {
    asio::io_context io;
    tcp::acceptor a(io);
    error_code ec;
    a.open(tcp::v4(), ec);
    a.bind({kLoopback, port}, ec);
    return !ec;
}

std::string shell_output(const std::string& cmd) {
    std::string out;
    if (FILE* f = popen(cmd.c_str(), "r")) {
        std::array<char, 4096> buf;
        while (auto n = fread(buf.data(), 1, buf.size(), f)) out.append(buf.data(), n);
        pclose(f);
    }
    return out;
}

// One private Postfix for the whole test program (starting one takes seconds).
class PostfixPeer {
  public:
    fs::path dir;
    // STARTTLS and PIPELINING; port + 1: neither; + 2: rejects DATA; + 3: rejects the client
    unsigned short port = 0;

    // Stops instances left behind by test processes that were killed (e.g. by a ctest timeout).
    static void reap_orphans() {
        for (const auto& e : fs::directory_iterator("/tmp")) {
            if (e.path().filename().string().rfind("dr-smtp-postfix-", 0) != 0) continue;
            std::ifstream in(e.path() / "owner.pid");
            pid_t pid = 0;
            if (!(in >> pid) || pid <= 0 || kill(pid, 0) == 0) continue;
            std::string cmd =
                std::string(DR_SOURCE_DIR) + "/tests/smtp/postfix-peer stop " + e.path().string();
            if (std::system(cmd.c_str()) == 0) fs::remove_all(e.path());
        }
    }

    void start() {
        reap_orphans();
        char tmpl[] = "/tmp/dr-smtp-postfix-XXXXXX";
        dir = mkdtemp(tmpl);
        std::ofstream(dir / "owner.pid") << getpid() << "\n";
        fs::create_directories(dir / "etc");
        std::ofstream(dir / "etc/recipient.access")
            << "reject@example.org REJECT no such user here\n"
               "defer@example.org DEFER_IF_PERMIT try again later\n";
        std::ofstream(dir / "etc/sender.access") << "badsender@example.org REJECT not welcome\n";
        std::ofstream(dir / "etc/header_checks")
            << "/^Subject: reject-me/ REJECT content rejected\n"
               "/^Subject: hold-me/ HOLD kept for the test\n";
        std::mt19937 rng(std::random_device{}());
        do port = static_cast<unsigned short>(20000 + rng() % 20000);
        while (!port_free(port) || !port_free(port + 1) || !port_free(port + 2) ||
               !port_free(port + 3));
        std::string cmd = std::string(DR_SOURCE_DIR) + "/tests/smtp/postfix-peer start " +
                          dir.string() + " 127.0.0.1 " + std::to_string(port);
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
        wait_until_listening();
    }

    void stop() {
        if (dir.empty()) return;
        std::string cmd =
            std::string(DR_SOURCE_DIR) + "/tests/smtp/postfix-peer stop " + dir.string();
        EXPECT_EQ(std::system(cmd.c_str()), 0);
        fs::remove_all(dir);
    }

    void wait_until_listening() {
        for (int i = 0; i < 100; ++i) {
            if (!port_free(port) && !port_free(port + 1)) return;
            std::this_thread::sleep_for(100ms);
        }
        FAIL() << "postfix did not listen on " << port;
    }

    std::string log() const { return read_file(dir / "maillog"); }

    static std::size_t count(const std::string& text, const std::string& what) {
        std::size_t n = 0;
        for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1))
            ++n;
        return n;
    }

    // The log size once every earlier connection has logged its disconnect, so that
    // disconnect_line(mark()) finds the line of the next connection.
    std::size_t mark() const {
        std::string l;
        for (int i = 0; i < 100; ++i) {
            l = log();
            if (count(l, "]: connect from") == count(l, "]: disconnect from")) break;
            std::this_thread::sleep_for(50ms);
        }
        return l.size();
    }

    // The first "disconnect from" line after `from` of a connection that sent
    // commands, waiting for Postfix to write it. postlogd writes asynchronously,
    // so the line of an earlier test's command-less connection (a rejected
    // greeting: "commands=0/0") can still arrive after mark(): it is skipped.
    std::string disconnect_line(std::size_t from) const {
        for (int i = 0; i < 200; ++i) {
            std::string l = log();
            for (auto pos = l.find("disconnect from", std::min(from, l.size()));
                 pos != std::string::npos; pos = l.find("disconnect from", pos + 1)) {
                std::string line = l.substr(pos, l.find('\n', pos) - pos);
                if (line.find(" commands=0/0") == std::string::npos) return line;
            }
            std::this_thread::sleep_for(50ms);
        }
        return {};
    }

    std::string cert_spki_sha256() const {
        FILE* f = fopen((dir / "etc/cert.pem").c_str(), "r");
        X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
        fclose(f);
        unsigned char* der = nullptr;
        int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
        std::string digest(SHA256_DIGEST_LENGTH, '\0');
        SHA256(der, static_cast<std::size_t>(len), reinterpret_cast<unsigned char*>(digest.data()));
        OPENSSL_free(der);
        X509_free(x);
        return digest;
    }

    std::string postcat(const std::string& queue_id) const {
        return shell_output("postcat -c " + (dir / "etc").string() + " -bh -q " + queue_id +
                            " 2>&1");
    }
};

PostfixPeer* peer = nullptr;

class Environment : public ::testing::Environment {
  public:
    void SetUp() override {
        peer = new PostfixPeer;
        peer->start();
    }
    void TearDown() override {
        peer->stop();
        delete peer;
    }
};
[[maybe_unused]] auto* const env = ::testing::AddGlobalTestEnvironment(new Environment);

template <typename T>
T run(asio::awaitable<T> op, asio::io_context& io) {
    // Run until this operation is done; other work (scripted servers) may still be pending.
    auto fut = asio::co_spawn(io, std::move(op), asio::use_future);
    io.restart();
    while (fut.wait_for(0s) != std::future_status::ready) io.run_one();
    return fut.get();
}

class ClientPostfix : public ::testing::Test {
  protected:
    asio::io_context io;
    asio::ssl::context tls{asio::ssl::context::tls_client};

    ClientOptions options(TlsMode mode) {
        ClientOptions o;
        o.helo_name = "client.test.example";
        o.host_name = "mx.test.example";
        o.tls = mode;
        o.tls_context = &tls;
        o.timeouts.cap(10s);
        return o;
    }
    tcp::endpoint tls_port() const { return {kLoopback, peer->port}; }
    tcp::endpoint plain_port() const {
        return {kLoopback, static_cast<unsigned short>(peer->port + 1)};
    }

    static Envelope envelope(std::vector<std::string> rcpts,
                             std::string sender = "sender@example.org") {
        Envelope e;
        e.sender = std::move(sender);
        for (auto& r : rcpts) e.recipients.push_back({r, "", ""});
        return e;
    }
    static std::string message(std::string subject, std::string body = "Hello.\r\n") {
        return "From: sender@example.org\r\nTo: rcpt@example.org\r\nSubject: " + subject +
               "\r\n\r\n" + body;
    }
};

std::string queue_id(const DeliveryStatus& st) {
    auto pos = st.reason.find("queued as ");
    return pos == std::string::npos ? "" : st.reason.substr(pos + 10);
}

}  // namespace

TEST_F(ClientPostfix, OpportunisticTlsPipeliningPerRecipientResults) {
    ClientSession s(io.get_executor(), options(TlsMode::opportunistic));
    auto st = run(s.open(tls_port()), io);
    ASSERT_TRUE(st.ok()) << st.reason;
    EXPECT_TRUE(s.tls_active());
    EXPECT_EQ(std::string(SSL_get_version(s.ssl())), "TLSv1.3");
    EXPECT_TRUE(s.capabilities().pipelining);
    EXPECT_FALSE(s.capabilities().starttls);  // not offered again after TLS
    EXPECT_EQ(s.greeting().text(), "220 mx.test.example ESMTP test peer");
    auto res = run(s.send(envelope({"ok@example.org", "reject@example.org", "defer@example.org"}),
                          message("test")),
                   io);
    ASSERT_TRUE(res.status.ok()) << res.status.reason;
    ASSERT_EQ(res.recipients.size(), 3u);
    EXPECT_TRUE(res.recipients[0].ok());
    EXPECT_EQ(res.recipients[0].dsn, "2.0.0");
    EXPECT_EQ(res.recipients[0].reason.rfind("250 2.0.0 Ok: queued as ", 0), 0u);
    EXPECT_TRUE(res.recipients[1].permanent());
    EXPECT_EQ(res.recipients[1].dsn, "5.7.1");
    EXPECT_EQ(res.recipients[1].reason,
              "host mx.test.example[127.0.0.1] said: 554 5.7.1 <reject@example.org>: Recipient "
              "address rejected: no such user here (in reply to RCPT TO command)");
    EXPECT_TRUE(res.recipients[2].temporary());
    EXPECT_EQ(res.recipients[2].dsn, "4.7.1");
    EXPECT_GT(res.transmission.count(), 0);
    EXPECT_GT(s.setup_time().count(), 0);
    run(s.quit(), io);
}

TEST_F(ClientPostfix, WithoutPipeliningAndReuseAfterRejectedContent) {
    std::size_t mark = peer->mark();
    ClientSession s(io.get_executor(), options(TlsMode::opportunistic));
    auto st = run(s.open(plain_port()), io);
    ASSERT_TRUE(st.ok()) << st.reason;
    EXPECT_FALSE(s.tls_active());
    EXPECT_FALSE(s.capabilities().pipelining);
    auto res =
        run(s.send(envelope({"a@example.org", "reject@example.org"}), message("reject-me")), io);
    EXPECT_TRUE(res.status.permanent());
    EXPECT_EQ(res.status.dsn, "5.7.1");
    EXPECT_NE(res.status.reason.find("(in reply to end of DATA command)"), std::string::npos)
        << res.status.reason;
    EXPECT_EQ(res.recipients[0].reason, res.status.reason);
    EXPECT_NE(res.recipients[1].reason.find("(in reply to RCPT TO command)"), std::string::npos);
    ASSERT_TRUE(s.usable());
    auto again = run(s.send(envelope({"b@example.org"}), message("fine")), io);
    EXPECT_TRUE(again.status.ok()) << again.status.reason;
    EXPECT_EQ(s.uses(), 2u);
    auto bad = run(s.send(envelope({"c@example.org"}, "badsender@example.org"), message("x")), io);
    EXPECT_TRUE(bad.recipients[0].permanent());
    EXPECT_NE(bad.recipients[0].reason.find("(in reply to MAIL FROM command)"), std::string::npos)
        << bad.recipients[0].reason;
    auto none = run(s.send(envelope({"reject@example.org"}), message("x")), io);
    EXPECT_TRUE(none.status.permanent());
    EXPECT_NE(none.status.reason.find("RCPT TO"), std::string::npos);
    EXPECT_TRUE(s.usable());
    run(s.quit(), io);
    std::string line = peer->disconnect_line(mark);
    EXPECT_NE(line.find("mail=3/4 rcpt=2/4 data=1/2 rset=2 quit=1"), std::string::npos) << line;
}

TEST_F(ClientPostfix, PipelinedRejectedSenderFailsEveryRecipient) {
    ClientSession s(io.get_executor(), options(TlsMode::none));
    ASSERT_TRUE(run(s.open(tls_port()), io).ok());
    EXPECT_FALSE(s.tls_active());
    EXPECT_TRUE(s.starttls_offered());
    auto res = run(
        s.send(envelope({"a@example.org", "b@example.org"}, "badsender@example.org"), message("x")),
        io);
    EXPECT_TRUE(res.status.permanent());
    for (const auto& r : res.recipients) {
        EXPECT_TRUE(r.permanent());
        EXPECT_NE(r.reason.find("(in reply to MAIL FROM command)"), std::string::npos) << r.reason;
    }
    EXPECT_TRUE(s.usable());
    EXPECT_TRUE(run(s.send(envelope({"a@example.org"}), message("x")), io).status.ok());
    run(s.quit(), io);
}

TEST_F(ClientPostfix, RejectedDataCommandFailsAcceptedRecipients) {
    ClientSession s(io.get_executor(), options(TlsMode::opportunistic));
    ASSERT_TRUE(run(s.open({kLoopback, static_cast<unsigned short>(peer->port + 2)}), io).ok());
    auto res = run(s.send(envelope({"a@example.org", "reject@example.org"}), message("x")), io);
    EXPECT_TRUE(res.status.permanent());
    EXPECT_EQ(res.recipients[0].reason,
              "host mx.test.example[127.0.0.1] said: 554 5.7.1 <DATA>: Data command rejected: "
              "Access denied (in reply to DATA command)");
    EXPECT_NE(res.recipients[1].reason.find("(in reply to RCPT TO command)"), std::string::npos);
    EXPECT_TRUE(s.usable());
    run(s.quit(), io);
}

TEST_F(ClientPostfix, RejectedGreetingIsRefusedToTalk) {
    ClientSession s(io.get_executor(), options(TlsMode::opportunistic));
    auto st = run(s.open({kLoopback, static_cast<unsigned short>(peer->port + 3)}), io);
    EXPECT_TRUE(st.permanent());
    EXPECT_EQ(st.dsn, "5.7.1");
    EXPECT_EQ(st.reason,
              "host mx.test.example[127.0.0.1] refused to talk to me: 554 5.7.1 "
              "<localhost[127.0.0.1]>: Client host rejected: Access denied");
    EXPECT_FALSE(s.usable());
}

TEST_F(ClientPostfix, RequiredTlsNotOfferedSendsNothingMore) {
    std::size_t mark = peer->mark();
    ClientSession s(io.get_executor(), options(TlsMode::required));
    auto st = run(s.open(plain_port()), io);
    EXPECT_TRUE(st.temporary());
    EXPECT_EQ(st.dsn, "4.7.4");
    EXPECT_EQ(st.reason, "TLS is required, but was not offered by host mx.test.example[127.0.0.1]");
    EXPECT_FALSE(s.usable());
    std::string line = peer->disconnect_line(mark);
    EXPECT_NE(line.find("ehlo=1 commands=1"), std::string::npos) << line;
}

TEST_F(ClientPostfix, DaneMatchGivesVerifiedSession) {
    SSL_CTX_dane_enable(tls.native_handle());
    std::string digest = peer->cert_spki_sha256();
    auto o = options(TlsMode::required);
    o.hooks.prepare = [&](SSL* ssl) {
        SSL_set_tlsext_host_name(ssl, "mx.test.example");
        if (SSL_dane_enable(ssl, "mx.test.example") <= 0) return false;
        SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
        return SSL_dane_tlsa_add(ssl, 3, 1, 1,
                                 reinterpret_cast<const unsigned char*>(digest.data()),
                                 digest.size()) > 0;
    };
    int depth = -2;
    o.hooks.verify = [&](SSL* ssl) -> std::optional<DeliveryStatus> {
        depth = SSL_get0_dane_authority(ssl, nullptr, nullptr);
        if (SSL_get_verify_result(ssl) != X509_V_OK)
            return DeliveryStatus::temp("4.7.5", "Server certificate not verified");
        return std::nullopt;
    };
    ClientSession s(io.get_executor(), o);
    auto st = run(s.open(tls_port()), io);
    ASSERT_TRUE(st.ok()) << st.reason;
    EXPECT_EQ(depth, 0);
    auto res = run(s.send(envelope({"a@example.org"}), message("dane")), io);
    EXPECT_TRUE(res.status.ok()) << res.status.reason;
    run(s.quit(), io);
}

TEST_F(ClientPostfix, DaneMismatchIsHandshakeFailureAndNoMailFrom) {
    SSL_CTX_dane_enable(tls.native_handle());
    std::string wrong(32, '\x42');
    auto o = options(TlsMode::required);
    o.hooks.prepare = [&](SSL* ssl) {
        if (SSL_dane_enable(ssl, "mx.test.example") <= 0) return false;
        SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
        return SSL_dane_tlsa_add(ssl, 3, 1, 1, reinterpret_cast<const unsigned char*>(wrong.data()),
                                 wrong.size()) > 0;
    };
    std::size_t mark = peer->mark();
    ClientSession s(io.get_executor(), o);
    auto st = run(s.open(tls_port()), io);
    EXPECT_TRUE(st.temporary());
    EXPECT_EQ(st.dsn, "4.7.5");
    EXPECT_EQ(st.reason, "Cannot start TLS: handshake failure");
    std::string line = peer->disconnect_line(mark);
    EXPECT_EQ(line.find("mail="), std::string::npos) << line;
    EXPECT_NE(line.find("starttls="), std::string::npos) << line;
}

TEST_F(ClientPostfix, OpportunisticHandshakeFailureFallsBackToPlaintext) {
    auto o = options(TlsMode::opportunistic);
    o.source_address = asio::ip::make_address("127.0.0.2");
    // No cipher in common with the server: a real handshake failure.
    o.hooks.prepare = [](SSL* ssl) {
        SSL_set_max_proto_version(ssl, TLS1_2_VERSION);
        return SSL_set_cipher_list(ssl, "aNULL") == 1;
    };
    ClientSession s(io.get_executor(), o);
    auto st = run(s.open(tls_port()), io);
    ASSERT_TRUE(st.ok()) << st.reason;
    EXPECT_TRUE(s.plaintext_fallback());
    EXPECT_FALSE(s.tls_active());
    EXPECT_TRUE(run(s.send(envelope({"a@example.org"}), message("x")), io).status.ok());
    run(s.quit(), io);
    peer->mark();  // waits for Postfix to log the disconnects
    EXPECT_NE(peer->log().find("[127.0.0.2]"), std::string::npos);  // the source address
    // The same failure with TLS required is final.
    o.tls = TlsMode::required;
    ClientSession r(io.get_executor(), o);
    auto st2 = run(r.open(tls_port()), io);
    EXPECT_EQ(st2.reason, "Cannot start TLS: handshake failure");
    EXPECT_FALSE(r.plaintext_fallback());
}

TEST_F(ClientPostfix, VerifyHookRefusalClosesBeforeSecondEhlo) {
    auto o = options(TlsMode::required);
    o.hooks.verify = [](SSL*) -> std::optional<DeliveryStatus> {
        return DeliveryStatus::temp("4.7.5", "Server certificate not verified");
    };
    std::size_t mark = peer->mark();
    ClientSession s(io.get_executor(), o);
    auto st = run(s.open(tls_port()), io);
    EXPECT_EQ(st.reason, "Server certificate not verified");
    // Postfix counts the STARTTLS as 1 or 0/1 depending on whether our close
    // reaches it before it has sent its session tickets; either way the only
    // commands it saw are the first EHLO and STARTTLS.
    std::string line = peer->disconnect_line(mark);
    EXPECT_NE(line.find(" ehlo=1 starttls="), std::string::npos) << line;
    EXPECT_EQ(line.find("ehlo=2"), std::string::npos) << line;
    EXPECT_EQ(line.find("mail="), std::string::npos) << line;
    EXPECT_NE(line.find(" commands="), std::string::npos) << line;
    EXPECT_TRUE(line.find("commands=2") != std::string::npos ||
                line.find("commands=1/2") != std::string::npos)
        << line;
}

TEST_F(ClientPostfix, DotStuffedBodyArrivesIntact) {
    ClientSession s(io.get_executor(), options(TlsMode::opportunistic));
    ASSERT_TRUE(run(s.open(tls_port()), io).ok());
    std::string body = "first\n.\n..two dots\n.leading\nlast line without newline";
    auto res = run(s.send(envelope({"a@example.org"}), message("hold-me", body)), io);
    ASSERT_TRUE(res.status.ok()) << res.status.reason;
    std::string id = queue_id(res.status);
    ASSERT_FALSE(id.empty());
    std::string content;
    for (int i = 0; i < 50 && content.find("last line") == std::string::npos; ++i) {
        std::this_thread::sleep_for(100ms);
        content = peer->postcat(id);
    }
    EXPECT_NE(content.find("first\n.\n..two dots\n.leading\nlast line without newline"),
              std::string::npos)
        << content;
    run(s.quit(), io);
}

TEST_F(ClientPostfix, OversizeMessageIsRefusedBeforeSending) {
    ClientSession s(io.get_executor(), options(TlsMode::opportunistic));
    ASSERT_TRUE(run(s.open(tls_port()), io).ok());
    EXPECT_EQ(s.capabilities().size_limit, 100000u);
    auto res =
        run(s.send(envelope({"a@example.org"}), message("big", std::string(200000, 'x'))), io);
    EXPECT_TRUE(res.status.permanent());
    EXPECT_EQ(res.status.dsn, "5.3.4");
    EXPECT_EQ(res.status.reason,
              "message size 200066 exceeds size limit 100000 of server "
              "mx.test.example[127.0.0.1]");
    EXPECT_TRUE(s.usable());
    run(s.quit(), io);
}

TEST_F(ClientPostfix, ProbeReportsTls) {
    auto p = run(probe(io.get_executor(), tls_port(), options(TlsMode::opportunistic)), io);
    ASSERT_TRUE(p.status.ok()) << p.status.reason;
    EXPECT_TRUE(p.starttls_offered);
    EXPECT_TRUE(p.tls_established);
    EXPECT_EQ(p.tls_version, "TLSv1.3");
    EXPECT_FALSE(p.tls_cipher.empty());
    EXPECT_TRUE(p.capabilities.dsn);
    auto plain = run(probe(io.get_executor(), plain_port(), options(TlsMode::opportunistic)), io);
    ASSERT_TRUE(plain.status.ok());
    EXPECT_FALSE(plain.starttls_offered);
    EXPECT_FALSE(plain.tls_established);
}

// Failures of the connection itself, against sockets this test opens on loopback.
class ClientConnection : public ClientPostfix {};

TEST_F(ClientConnection, RefusedConnectIs441) {
    tcp::acceptor a(io, {kLoopback, 0});
    auto port = a.local_endpoint().port();
    a.close();
    ClientSession s(io.get_executor(), options(TlsMode::opportunistic));
    auto st = run(s.open({kLoopback, port}), io);
    EXPECT_TRUE(st.temporary());
    EXPECT_EQ(st.dsn, "4.4.1");
    EXPECT_EQ(st.reason, "connect to mx.test.example[127.0.0.1]:" + std::to_string(port) +
                             ": Connection refused");
}

TEST_F(ClientConnection, SilentServerTimesOutInGreeting) {
    tcp::acceptor a(io, {kLoopback, 0});
    auto o = options(TlsMode::opportunistic);
    o.timeouts.set(Step::greeting, 300ms);
    ClientSession s(io.get_executor(), o);
    auto start = std::chrono::steady_clock::now();
    auto st = run(s.open(a.local_endpoint()), io);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
    EXPECT_EQ(st.dsn, "4.4.2");
    EXPECT_EQ(st.reason,
              "conversation with mx.test.example[127.0.0.1] timed out while receiving the initial "
              "server greeting");
}

TEST_F(ClientConnection, ClosedConnectionIsLostConnection) {
    tcp::acceptor a(io, {kLoopback, 0});
    a.async_accept([](error_code, tcp::socket s) { s.close(); });
    ClientSession s(io.get_executor(), options(TlsMode::opportunistic));
    auto st = run(s.open(a.local_endpoint()), io);
    EXPECT_EQ(st.dsn, "4.4.2");
    EXPECT_EQ(st.reason,
              "lost connection with mx.test.example[127.0.0.1] while receiving the initial server "
              "greeting");
}

// A scripted server: for each step, read one command line (unless `expect` is empty), check
// its start, then send `send`; "TLS" as `send` runs the server side of the handshake.
struct ScriptStep {
    std::string expect;
    std::string send;
};

awaitable<void> scripted_server(tcp::acceptor& a, std::vector<ScriptStep> script,
                                asio::ssl::context* tls, std::vector<std::string>* seen) {
    auto [ec, sock] = co_await a.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    asio::ssl::stream<tcp::socket&> ssl(sock, *tls);
    bool secure = false;
    asio::streambuf buf;
    for (const auto& st : script) {
        if (!st.expect.empty()) {
            error_code rec;
            if (secure)
                co_await asio::async_read_until(ssl, buf, "\r\n",
                                                asio::redirect_error(asio::use_awaitable, rec));
            else
                co_await asio::async_read_until(sock, buf, "\r\n",
                                                asio::redirect_error(asio::use_awaitable, rec));
            if (rec) co_return;
            std::istream in(&buf);
            std::string line;
            std::getline(in, line);
            seen->push_back(line);
            if (line.rfind(st.expect, 0) != 0) co_return;
        }
        error_code wec;
        if (st.send == "TLS") {
            co_await ssl.async_handshake(asio::ssl::stream_base::server,
                                         asio::redirect_error(asio::use_awaitable, wec));
            secure = true;
        } else if (secure) {
            co_await asio::async_write(ssl, asio::buffer(st.send),
                                       asio::redirect_error(asio::use_awaitable, wec));
        } else {
            co_await asio::async_write(sock, asio::buffer(st.send),
                                       asio::redirect_error(asio::use_awaitable, wec));
        }
        if (wec) co_return;
    }
}

TEST_F(ClientConnection, HeloFallbackWithoutPipelining) {
    tcp::acceptor a(io, {kLoopback, 0});
    std::vector<std::string> seen;
    asio::ssl::context unused(asio::ssl::context::tls_server);
    asio::co_spawn(io,
                   scripted_server(a,
                                   {{"", "220 old.example SMTP\r\n"},
                                    {"EHLO ", "502 5.5.2 Error: command not recognized\r\n"},
                                    {"HELO ", "250 old.example\r\n"},
                                    {"MAIL FROM:<a@example.org>", "250 ok\r\n"},
                                    {"RCPT TO:<b@example.org>", "250 ok\r\n"},
                                    {"DATA", "354 go\r\n"},
                                    {"Subject: x", ""},
                                    {"\r", ""},  // the empty line after the header
                                    {"..dot", ""},
                                    {".", "250 queued\r\n"},
                                    {"QUIT", "221 bye\r\n"}},
                                   &unused, &seen),
                   asio::detached);
    ClientSession s(io.get_executor(), options(TlsMode::opportunistic));
    auto st = run(s.open(a.local_endpoint()), io);
    ASSERT_TRUE(st.ok()) << st.reason;
    EXPECT_TRUE(s.used_helo());
    EXPECT_FALSE(s.tls_active());
    auto res =
        run(s.send(envelope({"b@example.org"}, "a@example.org"), "Subject: x\n\n.dot\n"), io);
    EXPECT_TRUE(res.status.ok()) << res.status.reason;
    EXPECT_EQ(res.status.reason, "250 queued");
    run(s.quit(), io);
    EXPECT_EQ(seen.back(), "QUIT\r");
}

TEST_F(ClientConnection, RepliesInjectedBeforeTlsAreDiscarded) {
    fs::path dir = peer->dir;  // reuse the Postfix peer's key and certificate
    asio::ssl::context server_tls(asio::ssl::context::tls_server);
    server_tls.use_certificate_chain_file((dir / "etc/cert.pem").string());
    server_tls.use_private_key_file((dir / "etc/key.pem").string(), asio::ssl::context::pem);
    tcp::acceptor a(io, {kLoopback, 0});
    std::vector<std::string> seen;
    const std::string injected = "250-injected.example\r\n250 AUTH PLAIN\r\n";
    asio::co_spawn(io,
                   scripted_server(a,
                                   {{"", "220 mitm.example ESMTP\r\n"},
                                    {"EHLO ", "250-mitm.example\r\n250 STARTTLS\r\n"},
                                    {"STARTTLS", "220 go ahead\r\n" + injected},
                                    {"", "TLS"},
                                    {"EHLO ", "250-real.example\r\n250 PIPELINING\r\n"},
                                    {"QUIT", "221 bye\r\n"}},
                                   &server_tls, &seen),
                   asio::detached);
    ClientSession s(io.get_executor(), options(TlsMode::required));
    auto st = run(s.open(a.local_endpoint()), io);
    ASSERT_TRUE(st.ok()) << st.reason;
    EXPECT_TRUE(s.tls_active());
    EXPECT_EQ(s.discarded_before_tls(), injected.size());
    EXPECT_EQ(s.capabilities().greeting, "real.example");
    EXPECT_TRUE(s.capabilities().pipelining);
    EXPECT_TRUE(s.capabilities().auth.empty());
    run(s.quit(), io);
}
