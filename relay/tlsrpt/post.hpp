// A TLSRPT report sent to an `https:` rua (RFC 8460 §5.3.1): a POST of the gzip'd report
// as application/tlsrpt+gzip, over HTTPS verified against the system CAs or [tls] ca_file,
// no redirects followed (dane/https.hpp). Any 2xx is delivered (§5.3.1: "200 OK" or other
// 2xx); anything else, including a redirect, is a failure to try again later. Blocking:
// run it off the event loop. Entry point: post_report().
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace dr::relay::tlsrpt {

struct PostOptions {
    std::string ca_file;                        // "" = the system CAs
    std::chrono::milliseconds timeout{60'000};  // the whole exchange
    std::vector<std::string> addresses;         // of the URL's host, from our resolver
    unsigned connect_port = 0;                  // tests only
};

struct Posted {
    bool delivered = false;
    std::string text;  // "HTTP 200", or why not
};

// `json`: the report, serialized; it is gzip'd here.
Posted post_report(const std::string& url, const std::string& json, const PostOptions& options);

}  // namespace dr::relay::tlsrpt
