// One HTTPS request, as MTA-STS and TLSRPT want it (RFC 8461 §3.3, RFC 8460 §5.3): HTTPS
// only, the certificate verified (PKIX, the system CAs or `ca_file`) for the URL's host,
// TLS 1.2 or later, no redirects followed, no proxy, a time limit and a cap on the answer's
// size. Blocking (libcurl's easy interface): run it off the event loop. Entry points:
// https_request(), https_url_host().
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace dr::dane {

struct HttpsRequest {
    std::string url;           // "https://host[:port]/path"
    std::string post;          // the body of a POST; empty with content_type "" = a GET
    std::string content_type;  // of the POST body
    std::string ca_file;       // "" = the system CAs
    std::chrono::milliseconds timeout{60'000};  // the whole exchange
    std::size_t max_answer = 64 * 1024;         // larger answers are cut off (too_large)
    // Addresses of the URL's host, looked up by the caller through its own resolver;
    // empty = the system resolver.
    std::vector<std::string> addresses;
    unsigned connect_port = 0;  // tests only: connect here instead (names and URL stay)
};

struct HttpsAnswer {
    enum class Kind {
        answered,   // an HTTP status came back (any status: redirects are not followed)
        untrusted,  // the certificate did not verify for the host
        too_large,  // the answer was over max_answer
        failed,     // no connection, timeout, TLS or protocol error, a bad URL
    } kind = Kind::failed;
    long status = 0;
    std::string content_type;  // as sent, "" when none
    std::string body;
    std::string why;  // for failures: libcurl's words
};

HttpsAnswer https_request(const HttpsRequest& request);

// The host of an https: URL ("" and `error` set when it is not one we would use).
std::string https_url_host(const std::string& url, std::string& error);

}  // namespace dr::dane
