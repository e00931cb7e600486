// `dane-relay serve` (see daemon.hpp): start-up as a list of named steps, then signals.
#include "relay/serve/daemon.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <thread>

#include "dane/verify.hpp"
#include "relay/cli/control.hpp"
#include "relay/cli/options.hpp"
#include "relay/cli/privileges.hpp"
#include "relay/cli/server_files.hpp"
#include "relay/metrics/http_server.hpp"
#include "relay/metrics/metrics.hpp"
#include "relay/queue/scheduler.hpp"
#include "relay/queue/sts_policies.hpp"
#include "relay/serve/authenticator.hpp"
#include "relay/serve/inbound_sink.hpp"
#include "relay/serve/listener.hpp"
#include "relay/serve/notify.hpp"
#include "relay/spool/unix_time.hpp"
#include "relay/tlsrpt/classify.hpp"
#include "relay/tlsrpt/counts.hpp"
#include "relay/tlsrpt/reports.hpp"

namespace dr::relay {

namespace {

constexpr const char* kVersion = "0.1.0";

// SPEC §12: the [smtp] limits as the delivery's options; each Postfix timeout covers its steps.
ConnectOptions connect_options(const conf::SmtpClientConfig& c) {
    using smtp::Step;
    ConnectOptions o;
    auto set = [&](std::initializer_list<Step> steps, std::chrono::seconds t) {
        for (Step s : steps) o.timeouts.set(s, t);
    };
    set({Step::connect}, c.connect_timeout);
    set({Step::greeting, Step::ehlo, Step::helo}, c.helo_timeout);
    set({Step::starttls, Step::tls_handshake}, c.starttls_timeout);
    set({Step::mail}, c.mail_timeout);
    set({Step::rcpt}, c.rcpt_timeout);
    set({Step::data}, c.data_init_timeout);
    set({Step::body}, c.data_xfer_timeout);
    set({Step::end_of_data}, c.data_done_timeout);
    set({Step::rset}, c.rset_timeout);
    set({Step::quit}, c.quit_timeout);
    o.attempt_timeout = c.attempt_timeout;
    o.reply_limits = {c.line_length_limit, c.reply_lines_limit, c.reply_size_limit};
    o.mx_address_limit = c.mx_address_limit;
    o.mx_session_limit = c.mx_session_limit;
    return o;
}

SchedulerConfig scheduler_config(const conf::Config& cfg) {
    SchedulerConfig s;
    s.queue = cfg.queue;
    s.policy = cfg.policy;
    s.hostname = cfg.server.hostname;
    s.concurrency = cfg.queue.concurrency;
    s.destination_concurrency = cfg.queue.destination_concurrency;
    s.tls_feature_status = cfg.log.tls_feature_status;
    s.sts = cfg.sts.enabled;
    s.honour_tls_required_no = cfg.requiretls.honour_tls_required_no;
    s.slow_concurrency = cfg.queue.slow_concurrency;
    s.slow_attempt_time = cfg.queue.slow_attempt_time;
    s.connect = connect_options(cfg.smtp);
    s.connection_cache.idle = cfg.smtp.connection_cache_time_limit;
    s.connection_cache.reuse_time = cfg.smtp.connection_reuse_time_limit;
    s.connection_cache.max_parked = cfg.queue.concurrency;
    return s;
}

template <class F>
void for_each_line(std::string_view text, F f) {
    while (!text.empty()) {
        auto end = text.find('\n');
        f(text.substr(0, end));
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    }
}

class Daemon {
  public:
    Daemon(LoadedConfig loaded, std::optional<Account> account, Logger& log)
        : cfg_(std::move(loaded.config)),
          account_(std::move(account)),
          file_(loaded.file),
          name_(loaded.name()),
          log_(log),
          client_tls_(asio::ssl::context::tls_client),
          signals_(io_, SIGTERM, SIGINT, SIGHUP),
          auth_(std::make_unique<Authenticator>(log)),
          inbound_work_(asio::make_work_guard(inbound_io_)) {}

    ~Daemon() { stop_inbound(); }

    // As root: everything that needs privileges or can fail early. Then, in the event loop,
    // the rest once the resolver has shown that it validates. Two event loops, one per core:
    // this thread runs the queue (scheduler, resolver, control socket, signals), a second one
    // the inbound SMTP sessions; the spool's blocking calls run on AsyncSpool's pool.
    int run() {
        using Step = std::string (Daemon::*)();
        for (Step step : {&Daemon::raise_fd_limit, &Daemon::client_tls, &Daemon::server_tls,
                          &Daemon::bind_listeners, &Daemon::bind_metrics,
                          &Daemon::open_evidence_log, &Daemon::make_resolver})
            if (auto err = (this->*step)(); !err.empty()) return fail(err);
        asio::co_spawn(io_, start(), asio::detached);
        io_.run();
        stop_inbound();
        return status_;
    }

  private:
    // SPEC §12: every connection and delivery holds a descriptor; take what the system allows.
    std::string raise_fd_limit() {
        rlimit lim{};
        if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
            lim.rlim_cur = lim.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
                log_.warning(Role::master, std::string("cannot raise the open file limit: ") +
                                               std::strerror(errno));
        }
        return {};
    }

    // One log line per line of `why` (the users file gives one per wrong line).
    int fail(const std::string& why) {
        for_each_line(why, [this](std::string_view l) { log_.fatal(Role::master, l); });
        std::cerr << "dane-relay serve: " << why << "\n";
        return 1;
    }

    asio::awaitable<void> start() {
        using Step = std::string (Daemon::*)();
        // Root is dropped after binding and before the first DNS query: libunbound reads its
        // trust anchors then, as the unprivileged user, who also owns the spool.
        std::string err = drop_privileges();
        // Read as the user that SIGHUP rereads it as, so that a start and a reload agree.
        if (err.empty()) err = co_await load_users(cfg_, users_);
        if (err.empty()) err = co_await validate_resolver();
        for (Step step : {&Daemon::open_spool, &Daemon::start_queue, &Daemon::open_control,
                          &Daemon::start_listeners, &Daemon::start_metrics})
            if (err.empty()) err = (this->*step)();
        if (!err.empty()) {
            status_ = fail(err);
            io_.stop();
            co_return;
        }
        notify::ready("accepting mail");  // systemd Type=notify: the resolver validates
        wait_signal();
    }

    // ---- steps as root ----------------------------------------------------------------------

    // Idle connections (the cache's, and sessions waiting on their client) hand their
    // record buffers back to OpenSSL: about 34 KiB each.
    std::string client_tls() {
        if (!dane::enable_dane(client_tls_.native_handle())) return "OpenSSL has no DANE support";
        // PKIX (the verify level, MTA-STS): [tls] ca_file instead of the system CAs, read now
        // (as root: the file may be readable by root only).
        if (!cfg_.tls.ca_file.empty()) {
            boost::system::error_code ec;
            client_tls_.load_verify_file(cfg_.tls.ca_file, ec);
            if (ec) return "cannot load tls.ca_file " + cfg_.tls.ca_file + ": " + ec.message();
        } else {
            client_tls_.set_default_verify_paths();
        }
        SSL_CTX_set_mode(client_tls_.native_handle(), SSL_MODE_RELEASE_BUFFERS);
        return {};
    }

    std::string server_tls() {
        if (cfg_.tls.cert.empty()) return {};
        server_tls_.emplace(asio::ssl::context::tls_server);
        SSL_CTX_set_mode(server_tls_->native_handle(), SSL_MODE_RELEASE_BUFFERS);
        return load_server_tls(*server_tls_, cfg_.tls);
    }

    std::string bind_listeners() {
        listener_.emplace(inbound_io_, log_);
        for (const auto& ep : cfg_.server.listen)
            if (auto err = listener_->bind(ep); !err.empty()) return err;
        return {};
    }

    // SPEC §10: bound as root with the listeners, so a busy port stops the start at once.
    std::string bind_metrics() {
        if (!cfg_.metrics.listen) return {};
        metrics_server_.emplace(io_.get_executor(), [this] {
            return metrics_.render({spool_ ? spool_->size() : 0, read_process_stats()});
        });
        return metrics_server_->bind(*cfg_.metrics.listen);
    }

    std::string open_evidence_log() {
        if (cfg_.log.json.empty()) return {};
        try {
            evidence_ = std::make_unique<EvidenceLog>(cfg_.log.json, owner());
        } catch (const std::runtime_error& e) {
            return e.what();
        }
        return {};
    }

    // libunbound reads its config now and its trust anchors at the first query.
    std::string make_resolver() {
        try {
            resolver_ = std::make_unique<dane::Resolver>(io_.get_executor(), cfg_.dns);
            resolver_->observe([this](dane::RrType t, dane::Security s) {
                metrics_.dns_lookup(dane::to_string(t), dane::to_string(s));
            });
        } catch (const dane::ResolverError& e) {
            return e.what();
        }
        return {};
    }

    // ---- steps in the event loop ------------------------------------------------------------

    asio::awaitable<std::string> validate_resolver() {
        try {
            co_await resolver_->ensure_validating();  // SPEC §7: no silent downgrade
        } catch (const dane::ResolverError& e) {
            co_return e.what();
        }
        log_.info(Role::master, "resolver: " + resolver_->mode());
        co_return std::string();
    }

    // SPEC §3: the auth_users table into `out` (null when unset); an error text, or "".
    asio::awaitable<std::string> load_users(const conf::Config& cfg,
                                            std::shared_ptr<const smtp::Passwords>& out) {
        out = nullptr;
        if (cfg.server.auth_users.empty()) co_return std::string();
        auto loaded = co_await auth_->load(cfg.server.auth_users);
        if (!loaded.error.empty()) co_return loaded.error;
        out = loaded.table;
        if (server_tls_)
            log_.info(Role::master, "AUTH PLAIN LOGIN after STARTTLS for " +
                                        std::to_string(out->size()) + " user(s) of " +
                                        cfg.server.auth_users);
        else
            log_.warning(Role::master, "[tls] is read at start only: AUTH needs a restart");
        co_return std::string();
    }

    // The sessions' AUTH hook for a table; empty (no AUTH) without one.
    smtp::Authenticate auth_hook(std::shared_ptr<const smtp::Passwords> table) {
        if (!table) return {};
        return [auth = auth_.get(), table](const smtp::ClientInfo& c, const smtp::AuthAttempt& a) {
            return auth->check(table, c, a);
        };
    }

    // SPEC §3: bind first, then drop root.
    std::string drop_privileges() { return account_ ? switch_to(*account_) : std::string(); }

    std::string open_spool() {
        std::error_code ec;
        spool_ = Spool::open(SpoolOptions{cfg_.spool.dir}, ec);
        if (!spool_) return "cannot open spool " + cfg_.spool.dir + ": " + ec.message();
        async_ = std::make_unique<AsyncSpool>(*spool_, 8);
        return {};
    }

    std::string start_queue() {
        scheduler_ = std::make_unique<Scheduler>(io_.get_executor(), *async_, *resolver_,
                                                 client_tls_, log_, scheduler_config(cfg_));
        if (evidence_) scheduler_->set_evidence_log(evidence_.get());
        // MTA-STS policies cached beside the queue (RFC 8461 §5.1: they outlive a restart).
        dane::StsFetchOptions fetch;
        fetch.ca_file = cfg_.tls.ca_file;
        sts_ = std::make_unique<StsPolicies>(*resolver_, sts_pool_, cfg_.spool.dir + "/sts",
                                             std::move(fetch));
        scheduler_->set_sts(sts_.get());
        if (cfg_.tlsrpt.enabled) count_tls_sessions();
        scheduler_->set_metrics(&metrics_);
        scheduler_->set_in_flow(&in_flow_);
        log_recovery(spool_->recovery());
        log_.info(Role::master, std::string("daemon started -- version ") + kVersion +
                                    ", configuration " + name_ + ", " +
                                    std::to_string(spool_->recovery().messages) +
                                    " queued message(s)");
        scheduler_->start();
        return {};
    }

    // RFC 8460: every attempt's TLS sessions counted per policy domain and day, kept beside
    // the queue.
    // Report mail itself is not counted (RFC 8460 §3: no reports about reports, no loops).
    void count_tls_sessions() {
        auto rc = tlsrpt::reports_config(cfg_);
        tlsrpt_ = std::make_unique<tlsrpt::Counts>(io_.get_executor(), sts_pool_, rc.dir, log_);
        tlsrpt_->start();
        scheduler_->set_attempt_observer(
            [this, from = rc.from](const dane::Destination& d, const StsFound* sts,
                                   const AttemptReport& r,
                                   const std::vector<OutboundMessage>& batch) {
                if (std::all_of(batch.begin(), batch.end(),
                                [&](const auto& m) { return m.envelope.sender == from; }))
                    return;
                tlsrpt_->add(tlsrpt::classify(d, sts, r), unix_seconds());
            });
        reports_ = std::make_unique<tlsrpt::Reports>(
            io_.get_executor(), sts_pool_, *async_, *resolver_, log_, std::move(rc),
            [this](const std::string& id) { scheduler_->enqueue(id); });
        reports_->start();
    }

    // What the spool repaired at start-up, one warning per queue file (SPEC §6: the log must
    // show every message that left the queue other than by delivery or bounce).
    void log_recovery(const RecoveryReport& r) {
        for (const auto& id : r.corrupt)
            log_.warning(Role::qmgr, id + ": corrupt queue file (envelope unreadable): moved to " +
                                         cfg_.spool.dir + "/corrupt/" + id);
        for (const auto& id : r.torn)
            log_.warning(Role::qmgr, id + ": torn journal record at the end of the queue file " +
                                         "cut off (a status update interrupted by a crash)");
    }

    // `dane-relay queue` on the running daemon; a missing socket is not fatal.
    std::string open_control() {
        ControlHooks hooks{[this] { scheduler_->flush(); },
                           [this](const std::string& id) { scheduler_->enqueue(id); }, nullptr};
        if (reports_)
            hooks.tlsrpt = [this](std::vector<std::string> args) {  // from tlsrpt_command.cpp
                return reports_->send_now(args.size() == 4 ? args[3] : "");
            };
        control_.emplace(io_.get_executor(), *async_, std::move(hooks));
        if (auto err = control_->open(cfg_.spool.dir); !err.empty())
            log_.warning(Role::master, err);
        return {};
    }

    // The inbound loop starts here, after root is dropped; new queue IDs cross to the queue's.
    std::string start_listeners() {
        sink_.emplace(
            *async_, log_, cfg_.server.hostname,
            [this](const std::string& id) {
                asio::post(io_, [this, id] { scheduler_->enqueue(id); });
            },
            &metrics_);
        sink_->set_in_flow(&in_flow_, cfg_.server.in_flow_delay);
        auto settings =
            inbound_settings(cfg_, server_tls_ ? &*server_tls_ : nullptr, auth_hook(users_));
        asio::post(inbound_io_, [this, settings] { listener_->start(settings, *sink_); });
        inbound_thread_ = std::thread([this] { inbound_io_.run(); });
        return {};
    }

    // The page is served by the queue's loop: scrapes are rare and short.
    std::string start_metrics() {
        if (!metrics_server_) return {};
        metrics_server_->start();
        log_.info(Role::master,
                  "metrics at http://" + cfg_.metrics.listen->to_string() + "/metrics");
        return {};
    }

    // Stops the inbound loop and waits for its thread; sessions still open are dropped with it.
    void stop_inbound() {
        inbound_work_.reset();
        inbound_io_.stop();
        if (inbound_thread_.joinable()) inbound_thread_.join();
        auth_->shutdown();  // after the sessions that await it
    }

    // ---- signals ----------------------------------------------------------------------------

    void wait_signal() {
        signals_.async_wait([this](boost::system::error_code ec, int sig) {
            if (ec) return;
            if (sig == SIGHUP) {
                asio::co_spawn(
                    io_,
                    [this]() -> asio::awaitable<void> {
                        co_await reload();
                        wait_signal();
                    },
                    asio::detached);
                return;
            }
            log_.info(Role::master, "terminating on signal " + std::to_string(sig));
            notify::stopping();
            asio::post(inbound_io_, [this] { listener_->close(); });
            control_->close();
            if (metrics_server_) metrics_server_->close();
            asio::co_spawn(io_, stop(), asio::detached);
        });
    }

    asio::awaitable<void> stop() {
        co_await scheduler_->drain();
        if (reports_) reports_->stop();
        if (tlsrpt_) {
            tlsrpt_->stop();
            co_await tlsrpt_->flush();
        }
        stop_inbound();  // inbound sessions still in DATA got no 250: their client keeps the mail
        io_.stop();
    }

    // The configuration file and the auth_users file it names; a problem in either keeps the
    // old ones.
    asio::awaitable<void> reload() {
        notify::reloading();
        auto fresh = load_choice({file_, {}});
        std::shared_ptr<const smtp::Passwords> users;
        if (fresh.error.empty()) fresh.error = co_await load_users(fresh.config, users);
        if (!fresh.error.empty()) {
            for_each_line(fresh.error, [this](std::string_view l) {
                log_.warning(Role::master,
                             "configuration not reloaded, keeping the old one: " + std::string(l));
            });
            notify::ready("accepting mail; the last reload was refused (see the log)");
            co_return;
        }
        users_ = users;
        if (fresh.config.server.hostname.empty())
            fresh.config.server.hostname = cfg_.server.hostname;
        auto settings = inbound_settings(fresh.config, server_tls_ ? &*server_tls_ : nullptr,
                                         auth_hook(users_));
        asio::post(inbound_io_, [this, settings, delay = fresh.config.server.in_flow_delay] {
            listener_->reconfigure(settings);
            sink_->set_in_flow(&in_flow_, delay);
        });
        scheduler_->reconfigure(scheduler_config(fresh.config));
        cfg_.policy = fresh.config.policy;
        if (fresh.config.metrics != cfg_.metrics)  // bound as root, at start only
            log_.warning(Role::master, "[metrics] listen changed: used from the next start");
        if (fresh.config.tlsrpt.enabled != cfg_.tlsrpt.enabled)
            log_.warning(Role::master, "[tlsrpt] enabled changed: used from the next start");
        if (fresh.config.tls.ca_file != cfg_.tls.ca_file)  // read as root, at start only
            log_.warning(Role::master, "[tls] ca_file changed: used from the next start");
        log_.info(Role::master,
                  std::string("reload -- version ") + kVersion + ", configuration " + name_);
        notify::ready("accepting mail");
    }

    std::optional<FileOwner> owner() const {
        return account_ ? std::optional(account_->owner()) : std::nullopt;
    }

    conf::Config cfg_;
    std::optional<Account> account_;  // to switch to after binding; empty: keep the user
    std::string file_, name_;
    Logger& log_;
    Metrics metrics_;              // bumped from both loops (atomics)
    asio::io_context io_;          // the queue's loop: this thread
    asio::io_context inbound_io_;  // the inbound sessions' loop: inbound_thread_
    // Tokens as many as inbound sessions (Postfix: default_process_limit); from both loops.
    // Declared after the loops: its waiting messages' timers go before the loop they use.
    InFlow in_flow_{static_cast<std::int64_t>(cfg_.server.max_connections)};
    asio::ssl::context client_tls_;
    std::optional<asio::ssl::context> server_tls_;
    asio::signal_set signals_;
    std::unique_ptr<Authenticator> auth_;           // its worker outlives the inbound loop's use
    std::shared_ptr<const smtp::Passwords> users_;  // the auth_users table; null: no AUTH
    std::unique_ptr<Spool> spool_;
    std::unique_ptr<AsyncSpool> async_;
    std::unique_ptr<dane::Resolver> resolver_;
    std::unique_ptr<EvidenceLog> evidence_;
    asio::thread_pool sts_pool_{2};  // MTA-STS policy fetches and cache files
    std::unique_ptr<StsPolicies> sts_;
    std::unique_ptr<tlsrpt::Counts> tlsrpt_;  // [tlsrpt] enabled
    std::unique_ptr<tlsrpt::Reports> reports_;
    std::unique_ptr<Scheduler> scheduler_;
    std::optional<SpoolSink> sink_;
    std::optional<Listener> listener_;
    std::optional<ControlServer> control_;
    std::optional<MetricsServer> metrics_server_;
    asio::executor_work_guard<asio::io_context::executor_type> inbound_work_;
    std::thread inbound_thread_;  // declared last: joined before the members it uses go
    int status_ = 0;
};

std::string host_name() {
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    return name[0] ? name : "localhost";
}

}  // namespace

int run_serve(std::vector<std::string> args) {
    auto choice = take_config_option(args);
    if (wants_help(args)) {
        std::cout << "usage: dane-relay serve [-c FILE]\n\nRuns the relay in the foreground "
                     "until SIGTERM; SIGHUP reloads FILE.\nWithout -c, "
                  << kDefaultConfigFile << " when it exists, else the built-in defaults.\n";
        return 0;
    }
    if (!choice.error.empty() || !args.empty()) {
        std::cerr << "dane-relay serve: "
                  << (choice.error.empty() ? "unexpected argument " + args[0] : choice.error)
                  << "\n";
        return 2;
    }
    auto loaded = load_choice(choice);
    if (!loaded.error.empty()) {
        std::cerr << loaded.error << "\n";
        return 1;
    }
    if (loaded.config.server.hostname.empty()) loaded.config.server.hostname = host_name();
    RunAs who = run_as(loaded.config.server);
    if (!who.error.empty()) {
        std::cerr << "dane-relay serve: " << who.error << "\n";
        return 1;
    }
    std::unique_ptr<Logger> log;
    try {
        log = Logger::open(loaded.config.log, loaded.config.server.hostname,
                           who.account ? std::optional(who.account->owner()) : std::nullopt);
    } catch (const LogError& e) {
        std::cerr << "dane-relay serve: " << e.what() << "\n";
        return 1;
    }
    std::signal(SIGPIPE, SIG_IGN);
    Daemon d(std::move(loaded), std::move(who.account), *log);
    return d.run();
}

}  // namespace dr::relay
