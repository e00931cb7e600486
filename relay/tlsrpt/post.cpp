// See post.hpp.
#include "relay/tlsrpt/post.hpp"

#include "dane/https.hpp"
#include "relay/tlsrpt/report_mail.hpp"

namespace dr::relay::tlsrpt {

Posted post_report(const std::string& url, const std::string& json, const PostOptions& options) {
    dane::HttpsRequest r;
    r.url = url;
    r.post = gzip(json);
    r.content_type = "application/tlsrpt+gzip";
    r.ca_file = options.ca_file;
    r.timeout = options.timeout;
    r.max_answer = 16 * 1024;  // the answer is not read; a flood is cut off
    r.addresses = options.addresses;
    r.connect_port = options.connect_port;
    auto a = dane::https_request(r);
    using K = dane::HttpsAnswer::Kind;
    if (a.kind == K::too_large) return {false, "the answer is larger than 16 KB"};
    if (a.kind == K::untrusted) return {false, "certificate not trusted: " + a.why};
    if (a.kind != K::answered) return {false, a.why};
    const auto status = "HTTP " + std::to_string(a.status);
    if (a.status >= 300 && a.status < 400) return {false, status + ": redirects are not followed"};
    return {a.status >= 200 && a.status < 300, status};
}

}  // namespace dr::relay::tlsrpt
