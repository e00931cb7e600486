// The files a configuration names beside itself, read the way `serve` reads them at start:
// the [tls] certificate chain and key, and the [server] auth_users table. `serve` loads its
// server TLS context here; `config check` reports every problem of both. Entry points:
// load_server_tls(), named_file_problems().
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <string>
#include <vector>

#include "conf/config.hpp"

namespace dr::relay {

// The chain and key of `tls` into `ctx`; "" or the error text. OpenSSL refuses a key that
// does not belong to the chain's first certificate.
std::string load_server_tls(boost::asio::ssl::context& ctx, const conf::TlsServerConfig& tls);

// Every problem of the files `cfg` names, one line each ("users:3: empty hash", "cannot load
// [tls] certificate or key: ..."); empty when the daemon would start with them. Blocking:
// for the command line, not the event loop.
std::vector<std::string> named_file_problems(const conf::Config& cfg);

}  // namespace dr::relay
