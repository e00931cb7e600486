#include "relay/serve.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <sys/stat.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <list>
#include <map>
#include <sstream>

#include "dane/verify.hpp"
#include "relay/bounce.hpp"
#include "relay/scheduler.hpp"
#include "relay/spool_admin.hpp"
#include "relay/spool_sink.hpp"

namespace dr::relay {

namespace {

using tcp = asio::ip::tcp;

constexpr const char* kDefaultConfig = "/etc/dane-relay/dane-relay.toml";

// What a session needs from the config; replaced as a whole on SIGHUP.
struct Inbound {
    smtp::ServerOptions options;
    std::vector<conf::Cidr> allowed;
    unsigned max_connections = 100;
    unsigned max_per_client = 50;
};

std::shared_ptr<Inbound> make_inbound(const conf::Config& cfg, asio::ssl::context* server_tls) {
    auto in = std::make_shared<Inbound>();
    in->allowed = cfg.server.allowed_clients;
    in->max_connections = cfg.server.max_connections;
    in->max_per_client = cfg.server.max_connections_per_client;
    auto& o = in->options;
    o.hostname = cfg.server.hostname;
    o.tls = server_tls;
    o.max_message_size = cfg.server.max_message_size;
    o.max_recipients = cfg.server.max_recipients;
    o.timeouts.set(smtp::Step::command, std::chrono::duration_cast<std::chrono::milliseconds>(
                                            cfg.server.command_timeout));
    // SPEC §3: never an open relay.
    o.allowed = [allowed = in->allowed](const smtp::ClientInfo& c) {
        auto ip = conf::parse_ip(c.peer.address().to_string());
        return ip && conf::matches_any(allowed, *ip);
    };
    return in;
}

SchedulerConfig scheduler_config(const conf::Config& cfg) {
    SchedulerConfig s;
    s.queue = cfg.queue;
    s.policy = cfg.policy;
    s.hostname = cfg.server.hostname;
    s.concurrency = cfg.queue.concurrency;
    s.destination_concurrency = cfg.queue.destination_concurrency;
    return s;
}

// SPEC §3: bind first, then drop root.
std::string drop_privileges(const std::string& user) {
    if (::getuid() != 0 || user.empty()) return {};
    struct passwd* pw = ::getpwnam(user.c_str());
    if (!pw) return "user " + user + " does not exist ([server] user)";
    if (::setgroups(0, nullptr) != 0 || ::setgid(pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0)
        return "cannot switch to user " + user + ": " + std::strerror(errno);
    return {};
}

class Daemon {
  public:
    Daemon(conf::Config cfg, std::string file, Logger& log)
        : cfg_(std::move(cfg)),
          file_(std::move(file)),
          log_(log),
          client_tls_(asio::ssl::context::tls_client),
          signals_(io_, SIGTERM, SIGINT, SIGHUP) {}

    int run() {
        if (!dane::enable_dane(client_tls_.native_handle()))
            return fail("OpenSSL has no DANE support");
        client_tls_.set_default_verify_paths();
        if (!cfg_.tls.cert.empty()) {
            server_tls_.emplace(asio::ssl::context::tls_server);
            boost::system::error_code ec;
            server_tls_->use_certificate_chain_file(cfg_.tls.cert, ec);
            if (!ec) server_tls_->use_private_key_file(cfg_.tls.key, asio::ssl::context::pem, ec);
            if (ec) return fail("cannot load [tls] certificate or key: " + ec.message());
        }
        for (const auto& ep : cfg_.server.listen)
            if (auto err = listen(ep); !err.empty()) return fail(err);
        if (!cfg_.log.json.empty()) {
            try {
                evidence_ = std::make_unique<EvidenceLog>(cfg_.log.json);
            } catch (const std::runtime_error& e) {
                return fail(e.what());
            }
        }
        // libunbound reads its config now and its trust anchors at the first
        // query: both happen before root is dropped (start()).
        try {
            resolver_ = std::make_unique<dane::Resolver>(io_.get_executor(), cfg_.dns);
        } catch (const dane::ResolverError& e) {
            return fail(e.what());
        }
        asio::co_spawn(io_, start(), asio::detached);
        io_.run();
        return status_;
    }

  private:
    int fail(const std::string& why) {
        log_.fatal(Role::master, why);
        std::cerr << "dane-relay serve: " << why << "\n";
        return 1;
    }

    // After binding and the first DNS query: drop root, then open the spool
    // as the unprivileged user, who owns it.
    std::string open_queue() {
        if (auto err = drop_privileges(cfg_.server.user); !err.empty()) return err;
        std::error_code ec;
        spool_ = Spool::open(SpoolOptions{cfg_.spool.dir}, ec);
        if (!spool_) return "cannot open spool " + cfg_.spool.dir + ": " + ec.message();
        async_ = std::make_unique<AsyncSpool>(*spool_, 8);
        inbound_ = make_inbound(cfg_, server_tls_ ? &*server_tls_ : nullptr);
        scheduler_ = std::make_unique<Scheduler>(io_.get_executor(), *async_, *resolver_,
                                                 client_tls_, log_, scheduler_config(cfg_));
        if (evidence_) scheduler_->set_evidence_log(evidence_.get());
        scheduler_->set_bounce_hook([this](const MessageInfo& info, const std::string& body) {
            return bounce(info, body);
        });
        sink_ =
            std::make_unique<SpoolSink>(*async_, log_, cfg_.server.hostname,
                                        [this](const std::string& id) { scheduler_->enqueue(id); });
        return {};
    }

    std::string listen(const conf::Endpoint& ep) {
        try {
            tcp::endpoint where(asio::ip::make_address(ep.address.to_string()), ep.port);
            auto& a = acceptors_.emplace_back(io_);
            a.open(where.protocol());
            a.set_option(tcp::acceptor::reuse_address(true));
            if (where.address().is_v6()) a.set_option(asio::ip::v6_only(true));
            a.bind(where);
            a.listen();
        } catch (const boost::system::system_error& e) {
            return "cannot listen on " + ep.to_string() + ": " + e.code().message();
        }
        return {};
    }

    asio::awaitable<void> start() {
        try {
            co_await resolver_->ensure_validating();  // SPEC §7: no silent downgrade
        } catch (const dane::ResolverError& e) {
            status_ = fail(e.what());
            io_.stop();
            co_return;
        }
        if (auto err = open_queue(); !err.empty()) {
            status_ = fail(err);
            io_.stop();
            co_return;
        }
        const auto& rec = spool_->recovery();
        log_.info(Role::master, "daemon started -- version 0.1.0, configuration " +
                                    (file_.empty() ? std::string("built-in defaults") : file_) +
                                    ", " + std::to_string(rec.messages) + " queued message(s)");
        scheduler_->start();
        open_control();
        for (auto& a : acceptors_) asio::co_spawn(io_, accept_loop(a), asio::detached);
        wait_signal();
    }

    void wait_signal() {
        signals_.async_wait([this](boost::system::error_code ec, int sig) {
            if (ec) return;
            if (sig == SIGHUP) {
                reload();
                wait_signal();
                return;
            }
            log_.info(Role::master, "terminating on signal " + std::to_string(sig));
            for (auto& a : acceptors_) a.close();
            control_.close();
            ::unlink(control_socket_path(cfg_.spool.dir).c_str());
            asio::co_spawn(io_, stop(), asio::detached);
        });
    }

    asio::awaitable<void> stop() {
        co_await scheduler_->drain();
        io_.stop();  // inbound sessions still in DATA got no 250: their client keeps the mail
    }

    void reload() {
        try {
            // Not `x ? Config{} : load_config()`: GCC 12 at -O3 then falsely warns that
            // fresh.log.target.path may be used uninitialized.
            conf::Config fresh;
            if (!file_.empty()) fresh = conf::load_config(file_);
            inbound_ = make_inbound(fresh, server_tls_ ? &*server_tls_ : nullptr);
            scheduler_->reconfigure(scheduler_config(fresh));
            cfg_.policy = fresh.policy;
            log_.info(Role::master, "reload -- version 0.1.0, configuration " + file_);
        } catch (const conf::ConfigError& e) {
            log_.warning(
                Role::master,
                std::string("configuration not reloaded, keeping the old one: ") + e.what());
        }
    }

    // RFC 3464 notice to the sender for the recipients that bounced; queued
    // with the null sender like any other message (SPEC §4).
    asio::awaitable<std::string> bounce(const MessageInfo& info, const std::string& body) {
        NoticeInput in;
        in.hostname = cfg_.server.hostname;
        in.queue_id = info.id;
        in.envelope = info.envelope;
        in.content = body;
        in.now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
        for (std::size_t i = 0; i < info.rcpts.size(); ++i)
            if (info.rcpts[i].status == RcptStatus::bounced)
                in.recipients.push_back({info.envelope.recipients[i].address,
                                         info.envelope.recipients[i].orcpt, DsnAction::failed,
                                         info.rcpts[i].dsn, info.rcpts[i].reason, "", 0});
        auto notice = compose_notice(in);
        if (!notice) {
            log_.info(Role::bounce,
                      info.id + ": no non-delivery notification: " +
                          (info.envelope.sender.empty() ? "null sender" : "NOTIFY says none"));
            co_return std::string();
        }
        Envelope env;
        env.recipients.push_back({notice->to, "", ""});
        env.eightbitmime = notice->eightbit;
        env.smtputf8 = notice->smtputf8;
        env.client_name = "localhost";
        env.helo = cfg_.server.hostname;
        auto r = co_await async_->async_commit(env, notice->message, asio::use_awaitable);
        if (r.ec) {
            log_.warning(Role::bounce, info.id + ": cannot queue the non-delivery notification: " +
                                           r.ec.message());
            co_return std::string();
        }
        log_.info(Role::bounce, info.id + ": sender non-delivery notification: " + r.id);
        scheduler_->enqueue(r.id);
        co_return r.id;
    }

    // `dane-relay queue` on a running daemon (SPEC §4): one command line in,
    // "<exit status>\n" and the output back, over <spool>/control (mode 0600).
    void open_control() {
        const std::string path = control_socket_path(cfg_.spool.dir);
        ::unlink(path.c_str());
        try {
            control_.open();
            control_.bind(asio::local::stream_protocol::endpoint(path));
            ::chmod(path.c_str(), 0600);
            control_.listen();
        } catch (const boost::system::system_error& e) {
            log_.warning(Role::master, "no control socket " + path + ": " + e.code().message());
            return;
        }
        asio::co_spawn(io_, control_loop(), asio::detached);
    }

    asio::awaitable<void> control_loop() {
        while (control_.is_open()) {
            boost::system::error_code ec;
            auto socket =
                co_await control_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
            if (ec == asio::error::operation_aborted) co_return;
            if (!ec) asio::co_spawn(io_, control_session(std::move(socket)), asio::detached);
        }
    }

    asio::awaitable<void> control_session(asio::local::stream_protocol::socket socket) {
        boost::system::error_code ec;
        std::string line;
        co_await asio::async_read_until(socket, asio::dynamic_buffer(line, 4096), '\n',
                                        asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        std::istringstream words(line.substr(0, line.find('\n')));
        std::vector<std::string> args;
        for (std::string w; words >> w;) args.push_back(w);
        std::ostringstream out, err;
        int rc = run_queue_command_on(*spool_, args, out, err);
        // Tell the scheduler what changed on disk.
        if (rc == 0 && !args.empty() && args[0] == "flush") scheduler_->flush();
        if (!args.empty() && args[0] == "release")
            for (std::size_t i = 1; i < args.size(); ++i) scheduler_->enqueue(args[i]);
        std::string reply = std::to_string(rc) + "\n" + out.str() + err.str();
        co_await asio::async_write(socket, asio::buffer(reply),
                                   asio::redirect_error(asio::use_awaitable, ec));
    }

    asio::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
        while (acceptor.is_open()) {
            boost::system::error_code ec;
            tcp::socket socket =
                co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                if (ec == asio::error::operation_aborted) co_return;
                continue;
            }
            auto in = inbound_;
            auto peer = socket.remote_endpoint(ec);
            if (ec) continue;
            std::string addr = peer.address().to_string();
            if (total_ >= in->max_connections || per_client_[addr] >= in->max_per_client) {
                log_.warning(Role::smtpd, "Connection limit exceeded for " + client_name(peer));
                asio::co_spawn(io_,
                               smtp::refuse(std::move(socket), in->options.hostname,
                                            "Error: too many connections from " + addr),
                               asio::detached);
                continue;
            }
            asio::co_spawn(io_, session(std::move(socket), peer, in), asio::detached);
        }
    }

    asio::awaitable<void> session(tcp::socket socket, tcp::endpoint peer,
                                  std::shared_ptr<Inbound> in) {
        const std::string addr = peer.address().to_string();
        ++total_;
        ++per_client_[addr];
        log_.info(Role::smtpd, "connect from " + client_name(peer));
        std::string counts;
        try {
            smtp::ServerSession s(std::move(socket), *sink_, in->options);
            co_await s.run();
            counts = s.command_counts();
        } catch (const std::exception& e) {
            log_.warning(Role::smtpd, "session with " + client_name(peer) + " ended: " + e.what());
        }
        // Postfix 3.x: "disconnect from host[addr] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5"
        log_.info(Role::smtpd,
                  "disconnect from " + client_name(peer) + (counts.empty() ? "" : " " + counts));
        --total_;
        if (--per_client_[addr] == 0) per_client_.erase(addr);
    }

    conf::Config cfg_;
    std::string file_;
    Logger& log_;
    asio::io_context io_;
    asio::ssl::context client_tls_;
    std::optional<asio::ssl::context> server_tls_;
    asio::signal_set signals_;
    std::list<tcp::acceptor> acceptors_;
    asio::local::stream_protocol::acceptor control_{io_};
    std::unique_ptr<Spool> spool_;
    std::unique_ptr<AsyncSpool> async_;
    std::unique_ptr<dane::Resolver> resolver_;
    std::shared_ptr<Inbound> inbound_;
    std::unique_ptr<EvidenceLog> evidence_;
    std::unique_ptr<Scheduler> scheduler_;
    std::unique_ptr<SpoolSink> sink_;
    unsigned total_ = 0;
    std::map<std::string, unsigned> per_client_;
    int status_ = 0;
};

}  // namespace

int run_serve(std::vector<std::string> args) {
    std::string file;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if ((args[i] == "-c" || args[i] == "--config") && i + 1 < args.size()) {
            file = args[++i];
        } else if (args[i] == "--help" || args[i] == "-h") {
            std::cout << "usage: dane-relay serve [-c FILE]\n\nRuns the relay in the foreground "
                         "until SIGTERM; SIGHUP reloads FILE.\nWithout -c, "
                      << kDefaultConfig << " when it exists, else the built-in defaults.\n";
            return 0;
        } else {
            std::cerr << "dane-relay serve: unexpected argument " << args[i] << "\n";
            return 2;
        }
    }
    if (file.empty() && std::filesystem::exists(kDefaultConfig)) file = kDefaultConfig;
    conf::Config cfg;
    try {
        if (!file.empty()) cfg = conf::load_config(file);
    } catch (const conf::ConfigError& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    if (cfg.server.hostname.empty()) {
        char name[256] = {};
        ::gethostname(name, sizeof name - 1);
        cfg.server.hostname = name[0] ? name : "localhost";
    }
    std::unique_ptr<Logger> log;
    try {
        log = Logger::open(cfg.log, cfg.server.hostname);
    } catch (const LogError& e) {
        std::cerr << "dane-relay serve: " << e.what() << "\n";
        return 1;
    }
    std::signal(SIGPIPE, SIG_IGN);
    Daemon d(std::move(cfg), file, *log);
    return d.run();
}

}  // namespace dr::relay
