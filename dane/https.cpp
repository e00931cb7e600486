// See https.hpp.
#include "dane/https.hpp"

#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <tuple>

namespace dr::dane {
namespace {

struct EasyDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct ListDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct UrlDeleter {
    void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

void init_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The answer so far; over the limit, the transfer is aborted.
struct Sink {
    std::string body;
    std::size_t max = 0;
    bool over = false;
};

std::size_t take(char* data, std::size_t size, std::size_t n, void* user) {
    auto* sink = static_cast<Sink*>(user);
    if (sink->body.size() + size * n > sink->max) {
        sink->over = true;
        return 0;  // CURLE_WRITE_ERROR
    }
    sink->body.append(data, size * n);
    return size * n;
}

// The URL's host and port (443 unless given).
struct HostPort {
    std::string host;
    std::string port;
};

HostPort host_port(const std::string& url, std::string& error) {
    init_once();
    std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
    if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
        error = "not a URL: " + url;
        return {};
    }
    HostPort out;
    std::string scheme;
    for (auto [part, into, flags] :
         {std::tuple{CURLUPART_SCHEME, &scheme, 0u}, std::tuple{CURLUPART_HOST, &out.host, 0u},
          std::tuple{CURLUPART_PORT, &out.port, static_cast<unsigned>(CURLU_DEFAULT_PORT)}}) {
        char* got = nullptr;
        if (curl_url_get(u.get(), part, &got, flags) == CURLUE_OK && got) *into = got;
        curl_free(got);
    }
    if (scheme != "https") {
        error = "not an https: URL: " + url;
        return {};
    }
    if (out.host.empty()) error = "no host in " + url;
    return out;
}

// Where to connect: the caller's addresses for the URL's host and port (or, in tests,
// another port, keeping the name that is verified).
curl_slist* address_list(const HostPort& hp, const HttpsRequest& r) {
    if (r.addresses.empty()) return nullptr;
    auto bracket = [](const std::string& a) { return a.find(':') == a.npos ? a : "[" + a + "]"; };
    std::string entry = hp.host + ":" + hp.port + ":";
    if (r.connect_port == 0) {
        for (std::size_t i = 0; i < r.addresses.size(); ++i)
            entry += (i ? "," : "") + bracket(r.addresses[i]);
    } else {
        entry += bracket(r.addresses.front()) + ":" + std::to_string(r.connect_port);
    }
    return curl_slist_append(nullptr, entry.c_str());
}

void set_options(CURL* c, const HttpsRequest& r, Sink& sink, char* errors) {
    curl_easy_setopt(c, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");  // the host itself, never a proxy
    curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!r.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, r.ca_file.c_str());
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(r.max_answer));
    curl_easy_setopt(c, CURLOPT_USERAGENT, "dane-relay");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, take);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errors);
    if (!r.content_type.empty()) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r.post.data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.post.size()));
    }
}

HttpsAnswer judge(CURL* c, CURLcode rc, Sink& sink, const char* errors) {
    using K = HttpsAnswer::Kind;
    HttpsAnswer a;
    a.why = errors[0] ? errors : curl_easy_strerror(rc);
    if (rc == CURLE_PEER_FAILED_VERIFICATION) {
        a.kind = K::untrusted;
    } else if (sink.over || rc == CURLE_FILESIZE_EXCEEDED) {
        a.kind = K::too_large;
    } else if (rc == CURLE_OK) {
        a.kind = K::answered;
        a.why.clear();
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
        const char* type = nullptr;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
        if (type) a.content_type = type;
        a.body = std::move(sink.body);
    }
    return a;
}

}  // namespace

std::string https_url_host(const std::string& url, std::string& error) {
    return host_port(url, error).host;
}

HttpsAnswer https_request(const HttpsRequest& request) {
    HttpsAnswer bad;
    const auto hp = host_port(request.url, bad.why);
    if (!bad.why.empty()) return bad;
    std::unique_ptr<CURL, EasyDeleter> c(curl_easy_init());
    if (!c) {
        bad.why = "libcurl could not start";
        return bad;
    }
    std::unique_ptr<curl_slist, ListDeleter> headers;
    if (!request.content_type.empty())
        headers.reset(
            curl_slist_append(nullptr, ("Content-Type: " + request.content_type).c_str()));
    std::unique_ptr<curl_slist, ListDeleter> addresses(address_list(hp, request));
    Sink sink{{}, request.max_answer, false};
    char errors[CURL_ERROR_SIZE] = {};
    set_options(c.get(), request, sink, errors);
    if (headers) curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers.get());
    if (addresses)
        curl_easy_setopt(c.get(), request.connect_port ? CURLOPT_CONNECT_TO : CURLOPT_RESOLVE,
                         addresses.get());
    CURLcode rc = curl_easy_perform(c.get());
    return judge(c.get(), rc, sink, errors);
}

}  // namespace dr::dane
