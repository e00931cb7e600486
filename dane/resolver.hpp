// The validating stub: libunbound driven from the Asio event loop
// (ub_resolve_async; its ub_fd as an Asio descriptor; ub_process on readiness).
// Entry points: Resolver::create, start() for raw queries, mx/addresses/tlsa/txt.
// ensure_validating() also picks the mode: full recursion, or, when the root
// servers cannot be reached, forwarding to the resolv.conf nameservers (SPEC §7).
// Failures are values (Lookup with Security::failure or ::bogus); only
// start-up problems (bad config, no trust anchor) throw ResolverError.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "conf/config.hpp"
#include "dane/dns.hpp"

struct ub_ctx;
struct ub_result;

namespace dr::dane {

namespace asio = boost::asio;

class ResolverError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// RR types we ask for (RFC 1035, RFC 3596, RFC 6698).
enum class RrType : int { a = 1, mx = 15, txt = 16, aaaa = 28, tlsa = 52, dnskey = 48 };
const char* to_string(RrType t);  // "A", "MX", "TXT", "AAAA", "TLSA", "DNSKEY"

class Resolver {
  public:
    // A query in flight; results can be awaited in any order, so callers
    // start every lookup they need first and then collect them.
    class Query;
    template <class T>
    class Pending {
      public:
        asio::awaitable<Lookup<T>> get();

      private:
        friend class Resolver;
        std::shared_ptr<Query> query_;
    };

    // Throws ResolverError when the configuration cannot be applied.
    Resolver(asio::any_io_executor ex, const conf::DnsConfig& cfg);
    ~Resolver();
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    Pending<MxRecord> mx(const std::string& name);
    Pending<IpAddress> a(const std::string& name);
    Pending<IpAddress> aaaa(const std::string& name);
    Pending<TlsaRecord> tlsa(const std::string& name);
    // Each TXT record's strings joined (MTA-STS's _mta-sts, TLSRPT's _smtp._tls).
    Pending<std::string> txt(const std::string& name);

    // SPEC §7: a resolver that cannot validate is an error at start. Asks for
    // the root DNSKEY RRset and throws ResolverError unless it is secure. With
    // no forwarders configured and the root unreachable (an unvalidated lookup
    // gets no answer either), it switches to forwarding to the nameservers of
    // cfg.resolv_conf, keeps the trust anchor, and asks again. Call it once,
    // before any other query.
    asio::awaitable<void> ensure_validating();

    // The mode ensure_validating() settled on, for the start-up line: "full recursion
    // from the root", "forwarding to 192.0.2.53 (from /etc/resolv.conf), validating locally".
    const std::string& mode() const { return mode_; }

    std::size_t in_flight() const { return in_flight_; }

    // Called with each answer (or failure) of mx/a/aaaa/tlsa as its caller collects it:
    // what the metrics count (SPEC §10 dane_relay_dns_lookups_total).
    using Observer = std::function<void(RrType, Security)>;
    void observe(Observer o) { observer_ = std::move(o); }

  private:
    enum class Upstream { configured, resolv_conf, probe };
    Resolver(asio::any_io_executor ex, const conf::DnsConfig& cfg, Upstream how);
    static ub_ctx* new_context(const conf::DnsConfig& cfg, Upstream how,
                               const std::vector<std::string>& nameservers);
    void use_context(ub_ctx* fresh);
    asio::awaitable<void> fall_back_to_resolv_conf();
    std::shared_ptr<Query> start(const std::string& name, RrType type);
    void watch();
    static void on_result(void* arg, int err, ::ub_result* result);

    asio::any_io_executor ex_;
    conf::DnsConfig cfg_;
    std::string mode_;
    ub_ctx* ctx_ = nullptr;
    struct Watcher;
    std::unique_ptr<Watcher> watcher_;
    std::chrono::milliseconds timeout_;
    std::size_t in_flight_ = 0;
    bool watching_ = false;
    Observer observer_;
    std::shared_ptr<void> alive_ = std::make_shared<int>(0);
};

}  // namespace dr::dane
