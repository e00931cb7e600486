// See tlsa_connect.hpp.
#include "relay/cli/tlsa_connect.hpp"

#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <optional>

#include "dane/resolver.hpp"
#include "smtp/client_session.hpp"

namespace dr::relay {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// The peer's chain as PEM, leaf first; "" when it sent none.
std::string chain_pem(SSL* ssl) {
    STACK_OF(X509)* chain = ssl ? SSL_get_peer_cert_chain(ssl) : nullptr;
    if (!chain) return "";
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    for (int i = 0; i < sk_X509_num(chain); ++i)
        if (!bio || PEM_write_bio_X509(bio.get(), sk_X509_value(chain, i)) != 1) return "";
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : "";
}

// One address: the dialogue up to the handshake, then QUIT. `out.error` says why not.
asio::awaitable<void> fetch_from(const ChainRequest& req, asio::ssl::context& tls,
                                 const tcp::endpoint& ep,
                                 std::chrono::steady_clock::time_point deadline,
                                 FetchedChain& out) {
    smtp::ClientOptions o;
    o.helo_name = req.helo_name;
    const bool literal = ep.address().to_string() == req.host;
    o.host_name = literal ? "" : req.host;
    o.tls = smtp::TlsMode::required;
    o.tls_context = &tls;
    o.timeouts.cap(req.timeout);
    o.deadline = deadline;
    o.hooks.prepare = [sni = req.sni](SSL* ssl) {
        return sni.empty() || SSL_set_tlsext_host_name(ssl, sni.c_str()) == 1;
    };
    auto pem = std::make_shared<std::string>();
    o.hooks.verify = [pem](SSL* ssl) -> std::optional<smtp::DeliveryStatus> {
        *pem = chain_pem(ssl);  // taken before anything else is said over TLS
        return std::nullopt;
    };
    smtp::ClientSession session(co_await asio::this_coro::executor, std::move(o));
    auto status = co_await session.open(ep);
    out.peer = (literal ? "" : req.host) + "[" + ep.address().to_string() +
               "]:" + std::to_string(ep.port());
    if (!status.ok()) {
        out.error =
            status.reason.empty() ? "connection failed (" + status.dsn + ")" : status.reason;
        if (!pem->empty()) out.error.clear();  // the handshake worked: the chain is what counts
    } else {
        co_await session.quit();
    }
    out.pem = *pem;
    if (out.error.empty() && out.pem.empty())
        out.error = out.peer + " sent no certificate (anonymous TLS)";
}

tcp::endpoint endpoint_of(const dane::IpAddress& a, std::uint16_t port) {
    if (a.family == dane::IpAddress::Family::v4) {
        asio::ip::address_v4::bytes_type b;
        std::copy_n(a.bytes.begin(), b.size(), b.begin());
        return {asio::ip::address_v4(b), port};
    }
    return {asio::ip::address_v6(a.bytes), port};
}

// "A nxdomain (insecure)" for the error texts.
std::string lookup_text(const char* type, const dane::Lookup<dane::IpAddress>& l) {
    std::string s = std::string(type) + " " + dane::to_string(l.outcome) + " (" +
                    dane::to_string(l.security) + (l.why.empty() ? "" : ": " + l.why) + ")";
    return s;
}

// The addresses of req.host through the validating resolver, A first; empty with out.error
// set when there are none. Bogus answers are refused, as a validating resolver refuses them.
asio::awaitable<std::vector<tcp::endpoint>> resolve(const ChainRequest& req, dane::Resolver& r,
                                                    FetchedChain& out) {
    std::vector<tcp::endpoint> eps;
    try {
        co_await r.ensure_validating();
    } catch (const dane::ResolverError& e) {
        out.error = e.what();
        out.setup_error = true;
        co_return eps;
    }
    auto pa = r.a(req.host);
    auto paaaa = r.aaaa(req.host);
    auto a = co_await pa.get();
    auto aaaa = co_await paaaa.get();
    bool secure = true;
    for (const auto* l : {&a, &aaaa}) {
        if (l->security == dane::Security::bogus) {
            out.error = "cannot resolve " + req.host + ": " +
                        lookup_text(l == &a ? "A" : "AAAA", *l) + ": DNSSEC validation failed";
            co_return std::vector<tcp::endpoint>{};
        }
        if (l->ok() && !l->secure()) secure = false;
        for (const auto& addr : l->records) eps.push_back(endpoint_of(addr, req.port));
    }
    if (eps.empty())
        out.error = "cannot resolve " + req.host + ": " + lookup_text("A", a) + ", " +
                    lookup_text("AAAA", aaaa);
    out.address_security = secure ? "secure" : "insecure";
    co_return eps;
}

asio::awaitable<void> fetch(const ChainRequest& req, asio::ssl::context& tls,
                            dane::Resolver* resolver, FetchedChain& out) {
    auto deadline = std::chrono::steady_clock::now() + req.timeout;
    boost::system::error_code ec;
    auto literal = asio::ip::make_address(req.host, ec);
    std::vector<tcp::endpoint> eps;
    if (!ec)
        eps.emplace_back(literal, req.port);
    else
        eps = co_await resolve(req, *resolver, out);
    if (eps.empty()) co_return;
    auto security = out.address_security;
    for (const auto& ep : eps) {  // until one address gives a chain
        out = {};
        out.address_security = security;
        co_await fetch_from(req, tls, ep, deadline, out);
        if (out.error.empty() || std::chrono::steady_clock::now() >= deadline) co_return;
    }
}

}  // namespace

FetchedChain fetch_chain(const ChainRequest& req) {
    FetchedChain out;
    asio::io_context io;
    asio::ssl::context tls(asio::ssl::context::tls_client);
    tls.set_verify_mode(asio::ssl::verify_none);  // the record is made, not checked
    std::optional<dane::Resolver> resolver;
    boost::system::error_code ec;
    asio::ip::make_address(req.host, ec);
    if (ec) {
        try {
            resolver.emplace(io.get_executor(), req.dns);
        } catch (const dane::ResolverError& e) {
            out.error = e.what();
            out.setup_error = true;
            return out;
        }
    }
    dane::Resolver* r = resolver ? &*resolver : nullptr;
    asio::co_spawn(io, fetch(req, tls, r, out), asio::detached);
    io.run();
    return out;
}

}  // namespace dr::relay
