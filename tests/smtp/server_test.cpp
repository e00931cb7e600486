// The server session against real clients: swaks (plain, STARTTLS, AUTH after TLS, PIPELINING,
// oversize, bare-LF smuggling), Python's smtplib (DSN, SMTPUTF8, 8BITMIME parameters), our own
// client session, and raw sockets for pipelining order, limits and STARTTLS injection.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "smtp/client_session.hpp"
#include "smtp/server_session.hpp"

using namespace dr::smtp;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const auto kLoopback = asio::ip::make_address("127.0.0.1");

struct Stored {
    ClientInfo client;
    Envelope envelope;
    std::string data;
};

// An in-memory sink; can be told to fail at open or at commit.
class TestSink : public MessageSink {
  public:
    std::mutex mu;
    std::vector<Stored> messages;
    int aborted = 0;
    bool fail_open = false, fail_commit = false;

    class Writer : public MessageWriter {
      public:
        Writer(TestSink& s, Stored m) : sink_(s), m_(std::move(m)) {}
        awaitable<bool> write(std::string_view chunk) override {
            m_.data += chunk;
            co_return true;
        }
        awaitable<SinkResult> commit() override {
            std::lock_guard lock(sink_.mu);
            if (sink_.fail_commit) co_return SinkResult{};
            sink_.messages.push_back(m_);
            co_return SinkResult{true, "TEST" + std::to_string(sink_.messages.size())};
        }
        void abort() override {
            std::lock_guard lock(sink_.mu);
            ++sink_.aborted;
        }

      private:
        TestSink& sink_;
        Stored m_;
    };

    awaitable<std::unique_ptr<MessageWriter>> open(const ClientInfo& c,
                                                   const Envelope& e) override {
        std::lock_guard lock(mu);
        if (fail_open) co_return nullptr;
        co_return std::make_unique<Writer>(*this, Stored{c, e, {}});
    }
    std::size_t count() {
        std::lock_guard lock(mu);
        return messages.size();
    }
    Stored last() {
        std::lock_guard lock(mu);
        return messages.back();
    }
};

std::string run_command(const std::string& cmd, int* rc) {
    std::string out;
    FILE* f = popen((cmd + " 2>&1").c_str(), "r");
    std::array<char, 4096> buf;
    while (auto n = fread(buf.data(), 1, buf.size(), f)) out.append(buf.data(), n);
    int status = pclose(f);
    *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
}

std::string tail(const std::string& s) {
    return s.size() > 1500 ? s.substr(s.size() - 1500) : s;
}

class Server : public ::testing::Test {
  protected:
    fs::path dir;
    TestSink sink;
    ServerOptions options;
    asio::io_context io;
    asio::ssl::context tls{asio::ssl::context::tls_server};
    tcp::acceptor acceptor{io, {kLoopback, 0}};
    std::thread thread;
    std::atomic<int> sessions_open{0};

    void SetUp() override {
        char tmpl[] = "/tmp/dr-smtp-server-XXXXXX";
        dir = mkdtemp(tmpl);
        std::string cmd =
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
            "-days 2 -subj /CN=relay.test.example -keyout " +
            (dir / "key.pem").string() + " -out " + (dir / "cert.pem").string() + " 2>/dev/null";
        ASSERT_EQ(std::system(cmd.c_str()), 0);
        tls.use_certificate_chain_file((dir / "cert.pem").string());
        tls.use_private_key_file((dir / "key.pem").string(), asio::ssl::context::pem);
        options.hostname = "relay.test.example";
        options.tls = &tls;
        options.max_message_size = 20000;
        options.timeouts.cap(5s);
        options.allowed = [](const ClientInfo& c) { return c.peer.address().is_loopback(); };
        options.authenticate = [](const ClientInfo&, const AuthAttempt& a) -> awaitable<bool> {
            co_return a.credentials.user == "user" && a.credentials.password == "secret";
        };
    }

    void start() {
        asio::co_spawn(io, accept_loop(), asio::detached);
        thread = std::thread([this] { io.run(); });
    }

    void TearDown() override {
        io.stop();
        if (thread.joinable()) thread.join();
        fs::remove_all(dir);
    }

    awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec) co_return;
            asio::co_spawn(io, session(std::move(socket)), asio::detached);
        }
    }
    awaitable<void> session(tcp::socket s) {
        ++sessions_open;
        ServerSession session(std::move(s), sink, options);
        co_await session.run();
        {
            std::lock_guard lock(sink.mu);
            counts.push_back(session.command_counts());
        }
        --sessions_open;
    }
    std::vector<std::string> counts;  // command_counts() of each finished session

    // Waits for the sessions to end and returns the last one's command counts.
    std::string last_counts() {
        for (int i = 0; i < 100 && sessions_open > 0; ++i) std::this_thread::sleep_for(20ms);
        std::lock_guard lock(sink.mu);
        return counts.empty() ? "" : counts.back();
    }

    unsigned short port() const { return acceptor.local_endpoint().port(); }
    std::string swaks(const std::string& args, int* rc) {
        return run_command("swaks --server 127.0.0.1:" + std::to_string(port()) +
                               " --helo client.test.example --from sender@example.org "
                               "--to rcpt@example.org --timeout 10 " +
                               args,
                           rc);
    }
};

// A blocking plain-text SMTP client on a raw socket, for exact byte sequences.
class Raw {
  public:
    explicit Raw(unsigned short port) : sock_(io_) { sock_.connect({kLoopback, port}); }
    void send(std::string_view s) { asio::write(sock_, asio::buffer(s)); }
    std::string line() {
        error_code ec;
        asio::read_until(sock_, buf_, "\r\n", ec);
        if (ec) return "<" + ec.message() + ">";
        std::string l;
        std::istream in(&buf_);
        std::getline(in, l);
        if (!l.empty() && l.back() == '\r') l.pop_back();
        return l;
    }
    // Reads a whole (multi-line) reply and returns its last line.
    std::string reply() {
        std::string l = line();
        while (l.size() > 3 && l[3] == '-') l = line();
        return l;
    }
    tcp::socket& socket() { return sock_; }
    std::size_t buffered() const { return buf_.size(); }

  private:
    asio::io_context io_;
    tcp::socket sock_;
    asio::streambuf buf_;
};

}  // namespace

TEST_F(Server, SwaksPlainDelivery) {
    start();
    int rc;
    std::string out = swaks("--header 'Subject: plain'", &rc);
    ASSERT_EQ(rc, 0) << tail(out);
    ASSERT_EQ(sink.count(), 1u);
    Stored m = sink.last();
    EXPECT_EQ(m.envelope.sender, "sender@example.org");
    ASSERT_EQ(m.envelope.recipients.size(), 1u);
    EXPECT_EQ(m.envelope.recipients[0].address, "rcpt@example.org");
    EXPECT_NE(m.data.find("Subject: plain\r\n"), std::string::npos) << m.data;
    EXPECT_EQ(m.client.protocol(), "ESMTP");
    EXPECT_EQ(m.client.helo, "client.test.example");
    EXPECT_NE(out.find("250 2.0.0 Ok: queued as TEST1"), std::string::npos) << tail(out);
}

TEST_F(Server, SwaksStarttlsAndPipelining) {
    start();
    int rc;
    std::string out = swaks("-tls --pipeline", &rc);
    ASSERT_EQ(rc, 0) << tail(out);
    EXPECT_EQ(last_counts(), "ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7");
    ASSERT_EQ(sink.count(), 1u);
    Stored m = sink.last();
    EXPECT_TRUE(m.client.tls);
    EXPECT_EQ(m.client.tls_version, "TLSv1.3");
    EXPECT_EQ(m.client.protocol(), "ESMTPS");
}

TEST_F(Server, SwaksAuthOnlyAfterTls) {
    start();
    int rc;
    std::string out = swaks("-tls -a PLAIN -au user -ap secret", &rc);
    ASSERT_EQ(rc, 0) << tail(out);
    EXPECT_EQ(sink.last().client.auth_user, "user");
    EXPECT_EQ(sink.last().client.auth_method, "PLAIN");
    EXPECT_EQ(sink.last().client.protocol(), "ESMTPSA");
    out = swaks("-tls -a LOGIN -au user -ap secret", &rc);
    ASSERT_EQ(rc, 0) << tail(out);
    EXPECT_EQ(sink.last().client.auth_method, "LOGIN");
    out = swaks("-tls -a PLAIN -au user -ap wrong", &rc);
    EXPECT_NE(rc, 0);
    EXPECT_NE(out.find("535 5.7.8"), std::string::npos) << tail(out);
    // Without TLS, AUTH is not offered at all.
    out = swaks("-a PLAIN -au user -ap secret", &rc);
    EXPECT_NE(rc, 0);
    EXPECT_EQ(out.find("AUTH PLAIN"), std::string::npos) << tail(out);
    EXPECT_EQ(sink.count(), 2u);
}

// SPEC §3: before STARTTLS, AUTH is neither offered nor accepted (Postfix's 530 text).
TEST_F(Server, AuthBeforeStarttlsGets530) {
    options.allowed = [](const ClientInfo&) { return false; };
    start();
    Raw r(port());
    r.line();
    r.send("EHLO x\r\n");
    std::string ehlo, l;
    do ehlo += (l = r.line()) + "\n";
    while (l.size() > 3 && l[3] == '-');
    EXPECT_EQ(ehlo.find("AUTH"), std::string::npos) << ehlo;
    EXPECT_NE(ehlo.find("STARTTLS"), std::string::npos) << ehlo;
    r.send("AUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
    EXPECT_EQ(r.line(), "530 5.7.0 Must issue a STARTTLS command first");
    r.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n");
    EXPECT_EQ(r.line(), "250 2.1.0 Ok");
    EXPECT_EQ(r.line(), "554 5.7.1 <b@example.org>: Relay access denied");
}

// Three failures get 535 (malformed messages count too); the fourth 421, and the connection
// ends. The hook saw every attempt with its mechanism in upper case.
TEST_F(Server, FourthAuthFailureCloses) {
    std::vector<std::string> seen;
    options.authenticate = [&seen](const ClientInfo&, const AuthAttempt& a) -> awaitable<bool> {
        seen.push_back(a.mechanism + " " + a.credentials.user);
        co_return false;
    };
    start();
    Raw r(port());
    r.line();
    r.send("EHLO x\r\nSTARTTLS\r\n");
    r.reply();
    ASSERT_EQ(r.line(), "220 2.0.0 Ready to start TLS");
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    asio::ssl::stream<tcp::socket&> tls(r.socket(), ctx);
    tls.handshake(asio::ssl::stream_base::client);
    asio::streambuf buf;
    auto line = [&] {
        error_code ec;
        asio::read_until(tls, buf, "\r\n", ec);
        if (ec) return std::string("<closed>");
        std::string l;
        std::istream in(&buf);
        std::getline(in, l);
        return l.substr(0, l.size() - 1);
    };
    auto send = [&](const std::string& s) { asio::write(tls, asio::buffer(s)); };
    send("EHLO x\r\n");
    std::string ehlo, l;
    do ehlo += (l = line()) + "\n";
    while (l.size() > 3 && l[3] == '-');
    EXPECT_NE(ehlo.find("250 AUTH PLAIN LOGIN"), std::string::npos) << ehlo;
    const std::string fail = "535 5.7.8 Error: authentication failed: authentication failure";
    send("AUTH PLAIN AHVzZXIAd3Jvbmc=\r\n");  // \0user\0wrong
    EXPECT_EQ(line(), fail);
    send("auth login\r\n");
    EXPECT_EQ(line(), "334 VXNlcm5hbWU6");
    send("dXNlcg==\r\n");
    EXPECT_EQ(line(), "334 UGFzc3dvcmQ6");
    send("d3Jvbmc=\r\n");
    EXPECT_EQ(line(), fail);
    send("AUTH PLAIN bm9udWxz\r\n");  // "nonuls": not a PLAIN message
    EXPECT_EQ(line(), fail);
    send("AUTH PLAIN AHVzZXIAd3Jvbmc=\r\n");
    EXPECT_EQ(line(), "421 4.7.0 relay.test.example Error: too many failed authentications");
    EXPECT_EQ(line(), "<closed>");
    EXPECT_EQ(seen, (std::vector<std::string>{"PLAIN user", "LOGIN user", "PLAIN ", "PLAIN user"}));
    EXPECT_EQ(last_counts(), "ehlo=2 starttls=1 auth=0/4 commands=3/7");
}

TEST_F(Server, RelayDeniedUnlessAuthenticated) {
    options.allowed = [](const ClientInfo&) { return false; };
    start();
    int rc;
    std::string out = swaks("", &rc);
    EXPECT_NE(rc, 0);
    EXPECT_NE(out.find("554 5.7.1 <rcpt@example.org>: Relay access denied"), std::string::npos)
        << tail(out);
    EXPECT_EQ(sink.count(), 0u);
    out = swaks("-tls -a PLAIN -au user -ap secret", &rc);
    EXPECT_EQ(rc, 0) << tail(out);
    EXPECT_EQ(sink.count(), 1u);
}

TEST_F(Server, SwaksOversizeMessage) {
    start();
    {
        std::ofstream big(dir / "big.txt");
        for (int i = 0; i < 300; ++i) big << std::string(98, 'x') << "\r\n";
    }
    int rc;
    std::string out = swaks("--body " + (dir / "big.txt").string(), &rc);
    EXPECT_NE(rc, 0);
    EXPECT_NE(out.find("552 5.3.4 Error: message file too big"), std::string::npos) << tail(out);
    EXPECT_EQ(sink.count(), 0u);
    EXPECT_EQ(sink.aborted, 1);
}

TEST_F(Server, SwaksBareLfSmugglingIsRefused) {
    start();
    // swaks sends the data as given (no fixup): a bare-LF "end" and a smuggled second message.
    std::ofstream(dir / "smuggle.eml")
        << "Subject: first\r\n\r\nbody\n.\nMAIL FROM:<evil@example.org>\r\nRCPT "
           "TO:<victim@example.org>\r\n"
           "DATA\r\nSubject: smuggled\r\n\r\n.\r\n";
    int rc;
    std::string out = swaks("--no-data-fixup --data " + (dir / "smuggle.eml").string(), &rc);
    EXPECT_NE(rc, 0);
    EXPECT_NE(out.find("550 5.5.2 Error: bare <LF> received"), std::string::npos) << tail(out);
    EXPECT_EQ(sink.count(), 0u);
}

TEST_F(Server, SmtplibDsnUtf8And8bitmimeParameters) {
    start();
    std::string script =
        "import smtplib,sys\n"
        "s=smtplib.SMTP('127.0.0.1'," +
        std::to_string(port()) +
        ")\n"
        "s.ehlo('py.test.example')\n"
        "s.sendmail('s\\u00f6nder@example.org',['r\\u00e9cipient@example.org','b@example.org'],"
        "'Subject: caf\\u00e9\\r\\n\\r\\nna\\u00efve\\r\\n'.encode('utf-8'),"
        "mail_options=['SMTPUTF8','BODY=8BITMIME','RET=HDRS','ENVID=id+2B1'],"
        "rcpt_options=['NOTIFY=SUCCESS,FAILURE','ORCPT=rfc822;x+2By@example.org'])\n"
        "s.quit()\n";
    std::ofstream(dir / "client.py") << script;
    int rc;
    std::string out = run_command("/usr/bin/python3 " + (dir / "client.py").string(), &rc);
    ASSERT_EQ(rc, 0) << tail(out);
    ASSERT_EQ(sink.count(), 1u);
    Envelope e = sink.last().envelope;
    EXPECT_EQ(e.sender, "s\xc3\xb6nder@example.org");
    EXPECT_TRUE(e.smtputf8);
    EXPECT_EQ(e.body, BodyType::eight_bit_mime);
    EXPECT_EQ(e.ret, "HDRS");
    EXPECT_EQ(e.envid, "id+1");
    ASSERT_EQ(e.recipients.size(), 2u);
    EXPECT_EQ(e.recipients[0].address,
              "r\xc3\xa9"
              "cipient@example.org");
    EXPECT_EQ(e.recipients[0].notify, "SUCCESS,FAILURE");
    EXPECT_EQ(e.recipients[0].orcpt, "rfc822;x+y@example.org");
    EXPECT_NE(sink.last().data.find("na\xc3\xafve"), std::string::npos);
}

TEST_F(Server, OwnClientRoundTrip) {
    start();
    asio::io_context cio;
    asio::ssl::context ctls(asio::ssl::context::tls_client);
    ClientOptions o;
    o.tls = TlsMode::required;
    o.tls_context = &ctls;
    o.host_name = "relay.test.example";
    o.timeouts.cap(5s);
    ClientSession c(cio.get_executor(), o);
    auto open = asio::co_spawn(cio, c.open({kLoopback, port()}), asio::use_future);
    cio.run();
    cio.restart();
    ASSERT_TRUE(open.get().ok());
    EXPECT_TRUE(c.capabilities().pipelining);
    EXPECT_TRUE(c.capabilities().dsn);
    Envelope e;
    e.sender = "a@example.org";
    e.recipients = {{"b@example.org", "DELAY", "rfc822;b+c@example.org"},
                    {"c@example.org", "", ""}};
    e.envid = "env 1";
    e.ret = "FULL";
    auto sent = asio::co_spawn(cio, c.send(e, "Subject: t\n\n.dot line\n"), asio::use_future);
    cio.run();
    cio.restart();
    auto res = sent.get();
    ASSERT_TRUE(res.status.ok()) << res.status.reason;
    EXPECT_EQ(res.status.reason, "250 2.0.0 Ok: queued as TEST1");
    Stored m = sink.last();
    EXPECT_EQ(m.data, "Subject: t\r\n\r\n.dot line\r\n");
    EXPECT_EQ(m.envelope.envid, "env 1");
    EXPECT_EQ(m.envelope.recipients[0].orcpt, "rfc822;b+c@example.org");
    EXPECT_EQ(m.envelope.size, 25u);
    asio::co_spawn(cio, c.quit(), asio::detached);
    cio.run();
}

TEST_F(Server, PipelinedRepliesComeInOrder) {
    start();
    Raw r(port());
    EXPECT_EQ(r.line(), "220 relay.test.example ESMTP dane-relay");
    r.send(
        "EHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nRCPT "
        "TO:<bad>\r\nDATA\r\n");
    EXPECT_EQ(r.reply(), "250 STARTTLS");
    EXPECT_EQ(r.line(), "250 2.1.0 Ok");
    EXPECT_EQ(r.line(), "250 2.1.5 Ok");
    EXPECT_EQ(r.line(), "501 5.1.3 Bad recipient address syntax");
    EXPECT_EQ(r.line(), "354 End data with <CR><LF>.<CR><LF>");
    r.send("Subject: x\r\n\r\n..\r\n.\r\nNOOP\r\nQUIT\r\n");
    EXPECT_EQ(r.line(), "250 2.0.0 Ok: queued as TEST1");
    EXPECT_EQ(r.line(), "250 2.0.0 Ok");
    EXPECT_EQ(r.line(), "221 2.0.0 Bye");
    EXPECT_EQ(sink.last().data, "Subject: x\r\n\r\n.\r\n");
}

TEST_F(Server, MalformedCommandsKeepTheSessionUsable) {
    start();
    Raw r(port());
    r.line();
    r.send("MAIL FROM:<a@example.org>\r\n");
    EXPECT_EQ(r.line(), "503 5.5.1 Error: send HELO/EHLO first");
    r.send("HELO x\r\n" + std::string(1200, 'A') +
           "\r\nNOOP\nNOOP\r\nFOO\r\nRCPT TO:<a@b.c>\r\nDATA\r\n");
    EXPECT_EQ(r.line(), "250 relay.test.example");
    EXPECT_EQ(r.line(), "500 5.5.2 Error: line too long");
    EXPECT_EQ(r.line(), "550 5.5.2 Error: bare <LF> received");
    EXPECT_EQ(r.line(), "250 2.0.0 Ok");
    EXPECT_EQ(r.line(), "502 5.5.2 Error: command not recognized");
    EXPECT_EQ(r.line(), "503 5.5.1 Error: need MAIL command");
    EXPECT_EQ(r.line(), "503 5.5.1 Error: need MAIL command");
    r.send(
        "MAIL FROM:<a@example.org> SIZE=999999\r\nMAIL FROM:<a@example.org>\r\nDATA\r\nQUIT\r\n");
    EXPECT_EQ(r.line(), "552 5.3.4 Message size exceeds fixed limit");
    EXPECT_EQ(r.line(), "250 2.1.0 Ok");
    EXPECT_EQ(r.line(), "554 5.5.1 Error: no valid recipients");
    EXPECT_EQ(r.line(), "221 2.0.0 Bye");
    EXPECT_EQ(sink.count(), 0u);
    EXPECT_EQ(last_counts(),
              "helo=1 mail=1/3 rcpt=0/1 data=0/2 noop=1 quit=1 unknown=0/1 commands=4/10");
}

TEST_F(Server, TooManyErrorsCloses) {
    options.max_errors = 3;
    start();
    Raw r(port());
    r.line();
    r.send("FOO\r\nFOO\r\nFOO\r\nFOO\r\nNOOP\r\n");
    for (int i = 0; i < 3; ++i) EXPECT_EQ(r.line(), "502 5.5.2 Error: command not recognized");
    EXPECT_EQ(r.line(), "502 5.5.2 Error: command not recognized");
    EXPECT_EQ(r.line(), "421 4.7.0 relay.test.example Error: too many errors");
    EXPECT_EQ(r.line(), "<End of file>");
}

TEST_F(Server, SinkFailureIs452AndNothingStored) {
    sink.fail_commit = true;
    start();
    int rc;
    std::string out = swaks("", &rc);
    EXPECT_NE(rc, 0);
    EXPECT_NE(out.find("452 4.3.1 Insufficient system storage"), std::string::npos) << tail(out);
    EXPECT_EQ(sink.count(), 0u);
    sink.fail_commit = false;
    sink.fail_open = true;
    out = swaks("", &rc);
    EXPECT_NE(out.find("452 4.3.1 Insufficient system storage"), std::string::npos) << tail(out);
}

TEST_F(Server, IdleTimeoutSends421) {
    options.timeouts.set(Step::command, 300ms);
    start();
    Raw r(port());
    r.line();
    EXPECT_EQ(r.line(), "421 4.4.2 relay.test.example Error: timeout exceeded");
}

// SPEC §12: a client that keeps sending commands (slowloris) still meets the session deadline.
TEST_F(Server, SessionDeadlineEndsABusySession) {
    options.session_timeout = 600ms;
    start();
    Raw r(port());
    r.line();
    auto t0 = std::chrono::steady_clock::now();
    std::string got;
    for (int i = 0; i < 40; ++i) {  // one NOOP every 50 ms: never idle, for 2 s
        r.send("NOOP\r\n");
        got = r.line();
        if (got != "250 2.0.0 Ok") break;
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(got, "421 4.4.2 relay.test.example Error: timeout exceeded");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
}

// Postfix's smtpd_junk_command_limit: NOOP, RSET and VRFY beyond it count as errors.
TEST_F(Server, JunkCommandFloodCloses) {
    options.junk_limit = 5;
    options.max_errors = 2;
    start();
    Raw r(port());
    r.line();
    std::string flood;
    for (int i = 0; i < 3; ++i) flood += "NOOP\r\nRSET\r\nVRFY x\r\n";
    r.send(flood);
    std::vector<std::string> got;
    for (int i = 0; i < 10; ++i) got.push_back(r.line());
    // 5 free, 2 errors allowed, the 8th junk command is the third error: 421.
    EXPECT_EQ(got[7], "250 2.0.0 Ok");
    EXPECT_EQ(got[8], "421 4.7.0 relay.test.example Error: too many errors");
    EXPECT_EQ(got[9], "<End of file>");
}

TEST_F(Server, JunkCountStartsAgainAfterAMessage) {
    options.junk_limit = 2;
    options.max_errors = 0;
    start();
    Raw r(port());
    r.line();
    r.send("EHLO c\r\n");
    r.reply();
    for (int m = 0; m < 3; ++m) {
        r.send("RSET\r\nNOOP\r\n");
        EXPECT_EQ(r.line(), "250 2.0.0 Ok");
        EXPECT_EQ(r.line(), "250 2.0.0 Ok");
        r.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
        EXPECT_EQ(r.line(), "250 2.1.0 Ok");
        EXPECT_EQ(r.line(), "250 2.1.5 Ok");
        EXPECT_EQ(r.line().substr(0, 3), "354");
        r.send("Subject: x\r\n\r\nbody\r\n.\r\n");
        EXPECT_EQ(r.line().substr(0, 3), "250");
    }
    EXPECT_EQ(sink.count(), 3u);
}

TEST_F(Server, CommandsInjectedBeforeTlsAreDiscarded) {
    start();
    Raw r(port());
    r.line();
    r.send("EHLO x\r\n");
    r.reply();
    // The injected MAIL would be answered inside TLS if the server kept it.
    r.send("STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n");
    EXPECT_EQ(r.line(), "220 2.0.0 Ready to start TLS");
    ASSERT_EQ(r.buffered(), 0u);
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    asio::ssl::stream<tcp::socket&> tls(r.socket(), ctx);
    tls.handshake(asio::ssl::stream_base::client);
    asio::write(tls, asio::buffer(std::string("NOOP\r\n")));
    asio::streambuf buf;
    asio::read_until(tls, buf, "\r\n");
    std::string first(asio::buffers_begin(buf.data()), asio::buffers_end(buf.data()));
    EXPECT_EQ(first.substr(0, first.find("\r\n")), "250 2.0.0 Ok");
}

TEST_F(Server, RefuseSends421AndCloses) {
    asio::co_spawn(
        io,
        [this]() -> awaitable<void> {
            auto s = co_await acceptor.async_accept(asio::use_awaitable);
            co_await refuse(std::move(s), "relay.test.example", "Error: too many connections");
        },
        asio::detached);
    thread = std::thread([this] { io.run(); });
    Raw r(port());
    EXPECT_EQ(r.line(), "421 4.7.0 relay.test.example Error: too many connections");
    EXPECT_EQ(r.line(), "<End of file>");
}

TEST_F(Server, LongPipelinedBatchIsAnsweredCompletely) {
    options.junk_limit = 10000;  // 3000 NOOPs: a flood otherwise (JunkCommandFloodCloses)
    start();
    Raw r(port());
    r.line();
    std::string batch = "EHLO x\r\n";
    for (int i = 0; i < 3000; ++i) batch += "NOOP\r\n";
    batch += "QUIT\r\n";
    r.send(batch);
    r.reply();
    int noops = 0;
    for (std::string l = r.line(); l == "250 2.0.0 Ok"; l = r.line()) ++noops;
    EXPECT_EQ(noops, 3000);
}

// A message source that fails after its first piece: the server must store nothing.
class BrokenSource : public MessageSource {
  public:
    std::uint64_t size() const override { return 100; }
    awaitable<std::optional<std::string_view>> next() override {
        if (calls_++ == 0) co_return std::string_view("Subject: half\r\n\r\nfirst part\r\n");
        co_return std::nullopt;
    }

  private:
    int calls_ = 0;
};

TEST_F(Server, ClientAbortsOnSourceErrorWithoutDot) {
    start();
    asio::io_context cio;
    ClientOptions o;
    o.tls = TlsMode::none;
    o.host_name = "relay.test.example";
    o.timeouts.cap(5s);
    ClientSession c(cio.get_executor(), o);
    auto open = asio::co_spawn(cio, c.open({kLoopback, port()}), asio::use_future);
    cio.run();
    cio.restart();
    ASSERT_TRUE(open.get().ok());
    Envelope e;
    e.sender = "a@example.org";
    e.recipients = {{"b@example.org", "", ""}};
    BrokenSource source;
    auto sent = asio::co_spawn(cio, c.send(e, source), asio::use_future);
    cio.run();
    auto res = sent.get();
    EXPECT_TRUE(res.status.temporary());
    EXPECT_EQ(res.status.dsn, "4.3.0");
    EXPECT_FALSE(c.usable());
    for (int i = 0; i < 100 && sessions_open > 0; ++i) std::this_thread::sleep_for(20ms);
    EXPECT_EQ(sink.count(), 0u);
    EXPECT_EQ(sink.aborted, 1);
}
