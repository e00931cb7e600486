// See sts_fetch.hpp.
#include "dane/sts_fetch.hpp"

#include <algorithm>

#include "dane/https.hpp"

namespace dr::dane {
namespace {

// RFC 8461 §3.3: "text/plain", parameters (a charset) allowed; media types are
// case-insensitive.
bool is_text_plain(std::string t) {
    t = t.substr(0, t.find(';'));
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
    return t == "text/plain";
}

StsFetch failed(StsFetch::Kind kind, const std::string& url, std::string why) {
    return {kind, "", url + ": " + why};
}

StsFetch judge(HttpsAnswer a, const std::string& url) {
    using K = StsFetch::Kind;
    using A = HttpsAnswer::Kind;
    if (a.kind == A::untrusted) return failed(K::webpki_error, url, a.why);
    if (a.kind == A::too_large)
        return failed(K::fetch_error, url,
                      "larger than " + std::to_string(kStsMaxPolicyBytes) + " bytes");
    if (a.kind != A::answered) return failed(K::fetch_error, url, a.why);
    if (a.status >= 300 && a.status < 400)
        return failed(K::fetch_error, url,
                      "HTTP " + std::to_string(a.status) + ": redirects are not followed");
    if (a.status != 200) return failed(K::fetch_error, url, "HTTP " + std::to_string(a.status));
    if (!is_text_plain(a.content_type))
        return failed(K::fetch_error, url,
                      "media type " + (a.content_type.empty() ? "(none)" : a.content_type) +
                          " is not text/plain");
    return {K::body, std::move(a.body), ""};
}

}  // namespace

StsFetch fetch_sts_policy(const std::string& domain, const StsFetchOptions& options) {
    HttpsRequest r;
    r.url = "https://mta-sts." + domain + "/.well-known/mta-sts.txt";
    r.ca_file = options.ca_file;
    r.timeout = options.timeout;
    r.max_answer = kStsMaxPolicyBytes;
    r.addresses = options.addresses;
    if (options.port != 443) r.connect_port = options.port;
    return judge(https_request(r), r.url);
}

}  // namespace dr::dane
