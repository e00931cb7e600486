// See tlsa_connect.hpp.
#include "relay/cli/tlsa_connect.hpp"

#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

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

asio::awaitable<void> fetch(const ChainRequest& req, asio::ssl::context& tls, FetchedChain& out) {
    auto deadline = std::chrono::steady_clock::now() + req.timeout;
    auto ex = co_await asio::this_coro::executor;
    tcp::resolver resolver(ex);
    tcp::resolver::results_type results;
    try {
        results = co_await resolver.async_resolve(req.host, std::to_string(req.port),
                                                  asio::use_awaitable);
    } catch (const boost::system::system_error& e) {
        out.error = "cannot resolve " + req.host + ": " + e.code().message();
        co_return;
    }
    for (const auto& entry : results) {  // until one address gives a chain
        out = {};
        co_await fetch_from(req, tls, entry.endpoint(), deadline, out);
        if (out.error.empty() || std::chrono::steady_clock::now() >= deadline) co_return;
    }
}

}  // namespace

FetchedChain fetch_chain(const ChainRequest& req) {
    FetchedChain out;
    asio::io_context io;
    asio::ssl::context tls(asio::ssl::context::tls_client);
    tls.set_verify_mode(asio::ssl::verify_none);  // the record is made, not checked
    asio::co_spawn(io, fetch(req, tls, out), asio::detached);
    io.run();
    return out;
}

}  // namespace dr::relay
