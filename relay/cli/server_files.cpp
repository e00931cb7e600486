// The files a configuration names (see server_files.hpp).
#include "relay/cli/server_files.hpp"

#include "conf/users.hpp"

namespace dr::relay {

std::string load_server_tls(boost::asio::ssl::context& ctx, const conf::TlsServerConfig& tls) {
    boost::system::error_code ec;
    ctx.use_certificate_chain_file(tls.cert, ec);
    if (!ec) ctx.use_private_key_file(tls.key, boost::asio::ssl::context::pem, ec);
    return ec ? "cannot load [tls] certificate or key: " + ec.message() : std::string();
}

std::vector<std::string> named_file_problems(const conf::Config& cfg) {
    std::vector<std::string> out;
    if (!cfg.tls.cert.empty()) {
        boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_server);
        if (auto err = load_server_tls(ctx, cfg.tls); !err.empty()) out.push_back(err);
    }
    if (!cfg.server.auth_users.empty()) {
        auto users = conf::load_users(cfg.server.auth_users);
        out.insert(out.end(), users.errors.begin(), users.errors.end());
    }
    return out;
}

}  // namespace dr::relay
