// See sts_fetch.hpp.
#include "dane/sts_fetch.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <memory>
#include <mutex>

namespace dr::dane {
namespace {

struct EasyDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct ListDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// The body so far; over the limit, the transfer is aborted.
struct Sink {
    std::string body;
    bool over = false;
};

std::size_t take(char* data, std::size_t size, std::size_t n, void* user) {
    auto* sink = static_cast<Sink*>(user);
    if (sink->body.size() + size * n > kStsMaxPolicyBytes) {
        sink->over = true;
        return 0;  // CURLE_WRITE_ERROR
    }
    sink->body.append(data, size * n);
    return size * n;
}

// RFC 8461 §3.3: "text/plain", parameters (a charset) allowed; media types are
// case-insensitive.
bool is_text_plain(const char* type) {
    if (!type) return false;
    std::string t(type);
    t = t.substr(0, t.find(';'));
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
    return t == "text/plain";
}

// Where to connect: the caller's addresses for the URL's host and port (or, in tests,
// another port, keeping the name that is verified).
curl_slist* address_list(const std::string& host, const StsFetchOptions& o) {
    if (o.addresses.empty()) return nullptr;
    auto bracket = [](const std::string& a) { return a.find(':') == a.npos ? a : "[" + a + "]"; };
    std::string entry;
    if (o.port == 443) {
        entry = host + ":443:";
        for (std::size_t i = 0; i < o.addresses.size(); ++i)
            entry += (i ? "," : "") + bracket(o.addresses[i]);
    } else {
        entry = host + ":443:" + bracket(o.addresses.front()) + ":" + std::to_string(o.port);
    }
    return curl_slist_append(nullptr, entry.c_str());
}

void set_options(CURL* c, const std::string& url, const StsFetchOptions& o, Sink& sink,
                 char* errors, curl_slist* addresses) {
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");  // the policy host itself, never a proxy
    curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!o.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, o.ca_file.c_str());
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(o.timeout.count()));
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(kStsMaxPolicyBytes));
    curl_easy_setopt(c, CURLOPT_USERAGENT, "dane-relay");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, take);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errors);
    if (addresses)
        curl_easy_setopt(c, o.port == 443 ? CURLOPT_RESOLVE : CURLOPT_CONNECT_TO, addresses);
}

StsFetch failed(StsFetch::Kind kind, const std::string& url, std::string why) {
    return {kind, "", url + ": " + why};
}

// The transfer's result as a StsFetch.
StsFetch judge(CURL* c, CURLcode rc, const std::string& url, Sink& sink, const char* errors) {
    using K = StsFetch::Kind;
    std::string detail = errors[0] ? errors : curl_easy_strerror(rc);
    if (rc == CURLE_PEER_FAILED_VERIFICATION) return failed(K::webpki_error, url, detail);
    if (sink.over || rc == CURLE_FILESIZE_EXCEEDED)
        return failed(K::fetch_error, url,
                      "larger than " + std::to_string(kStsMaxPolicyBytes) + " bytes");
    if (rc != CURLE_OK) return failed(K::fetch_error, url, detail);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 300 && status < 400)
        return failed(K::fetch_error, url,
                      "HTTP " + std::to_string(status) + ": redirects are not followed");
    if (status != 200) return failed(K::fetch_error, url, "HTTP " + std::to_string(status));
    const char* type = nullptr;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
    if (!is_text_plain(type))
        return failed(K::fetch_error, url,
                      std::string("media type ") + (type ? type : "(none)") + " is not text/plain");
    return {K::body, std::move(sink.body), ""};
}

}  // namespace

StsFetch fetch_sts_policy(const std::string& domain, const StsFetchOptions& options) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    const std::string host = "mta-sts." + domain;
    const std::string url = "https://" + host + "/.well-known/mta-sts.txt";
    std::unique_ptr<CURL, EasyDeleter> c(curl_easy_init());
    if (!c) return failed(StsFetch::Kind::fetch_error, url, "libcurl could not start");
    std::unique_ptr<curl_slist, ListDeleter> addresses(address_list(host, options));
    Sink sink;
    char errors[CURL_ERROR_SIZE] = {};
    set_options(c.get(), url, options, sink, errors, addresses.get());
    CURLcode rc = curl_easy_perform(c.get());
    return judge(c.get(), rc, url, sink, errors);
}

}  // namespace dr::dane
