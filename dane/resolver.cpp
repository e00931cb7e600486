#include "dane/resolver.hpp"

#include <unbound.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "dane/dns_wire.hpp"

namespace dr::dane {

namespace {

// The IANA root trust anchors (KSK-2017 and KSK-2024) as DS records, used
// when neither an unbound.conf nor a managed trust anchor file is given.
constexpr const char* kRootAnchors[] = {
    ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
    ". IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16",
};

constexpr int kClassIn = 1;
constexpr int kRcodeNxdomain = 3;

const char* rcode_name(int rcode) {
    static constexpr const char* kNames[] = {"NOERROR",  "FORMERR", "SERVFAIL",
                                             "NXDOMAIN", "NOTIMP",  "REFUSED"};
    return rcode >= 0 && rcode < 6 ? kNames[rcode] : "RCODE";
}

// The answer's soonest RRSIG expiration as Unix time (the 32-bit value is read as the
// nearest to now, RFC 4034 §3.1.5), 0 when there is none.
std::int64_t sig_expires(const ::ub_result* r, std::uint16_t type) {
    if (!r->answer_packet || r->answer_len <= 0) return 0;
    auto* p = static_cast<const std::uint8_t*>(r->answer_packet);
    auto e = wire::rrsig_expiration({p, static_cast<std::size_t>(r->answer_len)}, type);
    if (!e) return 0;
    auto now = static_cast<std::int64_t>(std::time(nullptr));
    return now + static_cast<std::int32_t>(*e - static_cast<std::uint32_t>(now));
}

void check(int err, const std::string& what) {
    if (err != 0) throw ResolverError(what + ": " + ub_strerror(err));
}

}  // namespace

const char* to_string(RrType t) {
    switch (t) {
        case RrType::a:
            return "A";
        case RrType::mx:
            return "MX";
        case RrType::aaaa:
            return "AAAA";
        case RrType::tlsa:
            return "TLSA";
        case RrType::txt:
            return "TXT";
        case RrType::dnskey:
            break;
    }
    return "DNSKEY";
}

// One lookup: created by start(), completed by libunbound's callback or by
// its deadline, whichever comes first.
class Resolver::Query {
  public:
    Query(asio::any_io_executor ex, std::string name, RrType type)
        : name(std::move(name)), type(type), timer(ex) {}

    std::string name;
    RrType type;
    asio::steady_timer timer;  // the deadline; cancelled to wake the waiter
    int async_id = 0;
    bool done = false;
    // The answer, copied out of ub_result.
    int err = 0;
    int rcode = 0;
    bool nxdomain = false, havedata = false, secure = false, bogus = false;
    std::string why_bogus, canonname;
    std::vector<std::vector<std::uint8_t>> rdata;
    std::int64_t sig_expires = 0;  // Unix time, 0 when unknown
    Resolver* owner = nullptr;
    std::shared_ptr<Query> self;  // keeps the query alive while libunbound holds it

    asio::awaitable<void> wait();
    template <class T>
    Lookup<T> to_lookup() const;
};

struct Resolver::Watcher {
    asio::posix::stream_descriptor fd;
    explicit Watcher(asio::any_io_executor ex, int ub) : fd(ex, ::dup(ub)) {}
};

Resolver::Resolver(asio::any_io_executor ex, const conf::DnsConfig& cfg)
    : Resolver(ex, cfg, Upstream::configured) {}

Resolver::Resolver(asio::any_io_executor ex, const conf::DnsConfig& cfg, Upstream how)
    : ex_(ex), cfg_(cfg), timeout_(cfg.query_timeout) {
    use_context(new_context(cfg, how, {}));
}

// A libunbound context: the unbound.conf, then the upstream (the configured forwarders,
// `nameservers`, or the root hints), then the trust anchors, except for the probe,
// which does not validate: it only asks whether an answer comes back at all.
ub_ctx* Resolver::new_context(const conf::DnsConfig& cfg, Upstream how,
                              const std::vector<std::string>& nameservers) {
    ub_ctx* ctx = ub_ctx_create();
    if (!ctx) throw ResolverError("cannot create the libunbound context");
    try {
        check(ub_ctx_async(ctx, 1), "libunbound: cannot enable the resolver thread");
        if (!cfg.unbound_conf.empty())
            check(ub_ctx_config(ctx, cfg.unbound_conf.c_str()),
                  "cannot load unbound config " + cfg.unbound_conf);
        if (how == Upstream::configured)
            for (const auto& fwd : cfg.forwarders) {
                // libunbound's syntax is "address@port".
                auto spec = fwd.address.to_string() + "@" + std::to_string(fwd.port);
                check(ub_ctx_set_fwd(ctx, spec.c_str()), "bad DNS forwarder " + fwd.to_string());
            }
        for (const auto& ns : nameservers)
            check(ub_ctx_set_fwd(ctx, ns.c_str()),
                  "bad nameserver " + ns + " in " + cfg.resolv_conf);
        if (how == Upstream::probe) {
            check(ub_ctx_set_option(ctx, "module-config:", "iterator"), "libunbound option");
            return ctx;
        }
        if (!cfg.trust_anchor_file.empty())
            check(ub_ctx_add_ta_autr(ctx, cfg.trust_anchor_file.c_str()),
                  "cannot use trust anchor file " + cfg.trust_anchor_file);
        if (cfg.unbound_conf.empty() && cfg.trust_anchor_file.empty())
            for (const char* ta : kRootAnchors) check(ub_ctx_add_ta(ctx, ta), "root anchor");
    } catch (...) {
        ub_ctx_delete(ctx);
        throw;
    }
    return ctx;
}

// Takes `fresh` in place of the current context (none of whose queries may be in flight).
void Resolver::use_context(ub_ctx* fresh) {
    watcher_.reset();
    if (ctx_) ub_ctx_delete(ctx_);
    ctx_ = fresh;
    alive_ = std::make_shared<int>(0);  // a wait still queued on the old descriptor is void
    watching_ = false;
    try {
        watcher_ = std::make_unique<Watcher>(ex_, ub_fd(ctx_));
    } catch (...) {
        ub_ctx_delete(ctx_);
        ctx_ = nullptr;
        throw;
    }
}

Resolver::~Resolver() {
    watcher_.reset();
    if (ctx_) ub_ctx_delete(ctx_);  // drops outstanding queries without calling back
}

std::shared_ptr<Resolver::Query> Resolver::start(const std::string& name, RrType type) {
    auto q = std::make_shared<Query>(ex_, name, type);
    q->owner = this;
    q->timer.expires_after(timeout_);
    int err = ub_resolve_async(ctx_, name.c_str(), static_cast<int>(type), kClassIn, q.get(),
                               &Resolver::on_result, &q->async_id);
    if (err != 0) {
        q->done = true;
        q->err = err;
        return q;
    }
    q->self = q;
    ++in_flight_;
    watch();
    return q;
}

void Resolver::watch() {
    if (watching_ || in_flight_ == 0) return;
    watching_ = true;
    // The handler may run after the Resolver is gone (the descriptor's
    // cancellation is delivered later), hence the liveness token.
    watcher_->fd.async_wait(
        asio::posix::stream_descriptor::wait_read,
        [this, alive = std::weak_ptr<void>(alive_)](boost::system::error_code ec) {
            if (alive.expired()) return;
            watching_ = false;
            if (ec) return;
            ub_process(ctx_);  // runs on_result for every ready answer
            watch();
        });
}

void Resolver::on_result(void* arg, int err, ::ub_result* r) {
    auto* q = static_cast<Query*>(arg);
    q->done = true;
    q->err = err;
    if (err == 0 && r) {
        q->rcode = r->rcode;
        q->nxdomain = r->nxdomain;
        q->havedata = r->havedata;
        q->secure = r->secure;
        q->bogus = r->bogus;
        if (r->why_bogus) q->why_bogus = r->why_bogus;
        q->canonname = normalize_name(r->canonname ? r->canonname : q->name);
        for (int i = 0; r->data && r->data[i]; ++i) {
            auto* p = reinterpret_cast<const std::uint8_t*>(r->data[i]);
            q->rdata.emplace_back(p, p + r->len[i]);
        }
        q->sig_expires = sig_expires(r, static_cast<std::uint16_t>(q->type));
    }
    if (r) ub_resolve_free(r);
    --q->owner->in_flight_;
    q->timer.cancel();
    auto keep = std::move(q->self);  // may free q when nobody waits for it
}

asio::awaitable<void> Resolver::Query::wait() {
    if (done) co_return;
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));  // cancelled or expired
    if (done) co_return;
    // Deadline passed: libunbound will not call back after ub_cancel.
    ub_cancel(owner->ctx_, async_id);
    if (--owner->in_flight_ == 0) owner->watcher_->fd.cancel();  // let the event loop end
    done = true;
    err = UB_NOERROR;
    rcode = -1;
    self.reset();
}

template <class T>
Lookup<T> Resolver::Query::to_lookup() const {
    Lookup<T> out;
    out.canonical = canonname.empty() ? normalize_name(name) : canonname;
    if (err != 0) {
        out.why = std::string("resolver error: ") + ub_strerror(err);
        return out;
    }
    if (rcode == -1) {
        out.why = "timed out";
        return out;
    }
    if (bogus) {
        out.security = Security::bogus;
        out.why = why_bogus.empty() ? "DNSSEC validation failed" : why_bogus;
        return out;
    }
    out.security = secure ? Security::secure : Security::insecure;
    if (rcode == kRcodeNxdomain || nxdomain) {
        out.outcome = Outcome::nxdomain;
    } else if (rcode != 0) {
        out.security = Security::failure;
        out.why = rcode_name(rcode);
    } else if (!havedata) {
        out.outcome = Outcome::nodata;
    } else {
        out.outcome = Outcome::found;
        for (const auto& rd : rdata) {
            std::optional<T> rec;
            if constexpr (std::is_same_v<T, MxRecord>) rec = wire::decode_mx(rd);
            if constexpr (std::is_same_v<T, TlsaRecord>) rec = wire::decode_tlsa(rd);
            if constexpr (std::is_same_v<T, std::string>) rec = wire::decode_txt(rd);
            if constexpr (std::is_same_v<T, IpAddress>)
                rec = type == RrType::a ? wire::decode_a(rd) : wire::decode_aaaa(rd);
            if (rec)
                out.records.push_back(std::move(*rec));
            else
                ++out.malformed;
        }
        out.sig_expires = sig_expires;
    }
    return out;
}

template <class T>
asio::awaitable<Lookup<T>> Resolver::Pending<T>::get() {
    co_await query_->wait();
    auto out = query_->template to_lookup<T>();
    if (const auto& seen = query_->owner->observer_) seen(query_->type, out.security);
    co_return out;
}

template class Resolver::Pending<MxRecord>;
template class Resolver::Pending<IpAddress>;
template class Resolver::Pending<TlsaRecord>;
template class Resolver::Pending<std::string>;

Resolver::Pending<MxRecord> Resolver::mx(const std::string& name) {
    Pending<MxRecord> p;
    p.query_ = start(name, RrType::mx);
    return p;
}
Resolver::Pending<IpAddress> Resolver::a(const std::string& name) {
    Pending<IpAddress> p;
    p.query_ = start(name, RrType::a);
    return p;
}
Resolver::Pending<IpAddress> Resolver::aaaa(const std::string& name) {
    Pending<IpAddress> p;
    p.query_ = start(name, RrType::aaaa);
    return p;
}
Resolver::Pending<TlsaRecord> Resolver::tlsa(const std::string& name) {
    Pending<TlsaRecord> p;
    p.query_ = start(name, RrType::tlsa);
    return p;
}
Resolver::Pending<std::string> Resolver::txt(const std::string& name) {
    Pending<std::string> p;
    p.query_ = start(name, RrType::txt);
    return p;
}

namespace {

bool answered(const Resolver::Query& q) {
    return q.err == 0 && q.rcode == 0 && q.havedata;
}

// Why the root DNSKEY lookup `q` does not prove a validating resolver; `via` names the
// upstream when it is not the root servers.
[[noreturn]] void not_validating(const Resolver::Query& q, const std::string& via) {
    if (!answered(q))
        throw ResolverError("cannot look up the root DNSKEY RRset" + via + " (" +
                            (q.err           ? ub_strerror(q.err)
                             : q.rcode == -1 ? "timed out"
                                             : "no answer") +
                            "): check network access or [dns] settings");
    throw ResolverError(
        "the resolver cannot validate DNSSEC" + via + " (root DNSKEY is " +
        (q.bogus ? "bogus: " + q.why_bogus : std::string("insecure: no trust anchor")) +
        "); check the trust anchor and the system clock" +
        (via.empty() ? "" : ", or whether the forwarders strip DNSSEC records"));
}

// The nameserver addresses of a resolv.conf(5) file, in file order.
std::vector<std::string> nameservers_of(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw ResolverError("cannot read " + path + ": " + std::strerror(errno));
    std::vector<std::string> out;
    std::string line, key, value;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        if (words >> key >> value && key == "nameserver") out.push_back(value);
    }
    if (out.empty()) throw ResolverError("no nameserver line in " + path);
    return out;
}

std::string joined(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
}

}  // namespace

asio::awaitable<void> Resolver::ensure_validating() {
    // With the fallback possible, an unvalidated probe asks the same question alongside:
    // it tells "unreachable" (no answer at all) from "answered but not secure".
    std::unique_ptr<Resolver> probe;
    std::shared_ptr<Query> reach;
    if (cfg_.forwarders.empty() && !cfg_.resolv_conf.empty()) {
        probe.reset(new Resolver(ex_, cfg_, Upstream::probe));
        reach = probe->start(".", RrType::dnskey);
    }
    auto q = start(".", RrType::dnskey);
    co_await q->wait();
    if (reach) co_await reach->wait();
    if (q->secure && answered(*q)) {
        std::vector<std::string> fwds;
        for (const auto& f : cfg_.forwarders) fwds.push_back(f.to_string());
        mode_ = fwds.empty()
                    ? "full recursion from the root"
                    : "forwarding to " + joined(fwds) + " ([dns] forwarders), validating locally";
        co_return;
    }
    if (!reach || answered(*reach)) not_validating(*q, "");
    co_await fall_back_to_resolv_conf();
}

// SPEC §7: the root servers cannot be reached; the resolv.conf nameservers may be. Their
// answers go through the same validator and anchor, so a stripping forwarder fails here.
asio::awaitable<void> Resolver::fall_back_to_resolv_conf() {
    auto servers = nameservers_of(cfg_.resolv_conf);
    use_context(new_context(cfg_, Upstream::resolv_conf, servers));
    auto via = " through " + joined(servers) + " (from " + cfg_.resolv_conf +
               ": the root servers did not answer)";
    auto q = start(".", RrType::dnskey);
    co_await q->wait();
    if (!q->secure || !answered(*q)) not_validating(*q, via);
    mode_ = "forwarding to " + joined(servers) + " (from " + cfg_.resolv_conf +
            "), validating locally: the root servers did not answer";
}

}  // namespace dr::dane
