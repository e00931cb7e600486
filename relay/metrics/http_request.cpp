// The request and response texts of GET /metrics (see http_request.hpp).
#include "relay/metrics/http_request.hpp"

namespace dr::relay {

namespace {

struct Status {
    const char* line;
    const char* body;
};

Status status_of(Route r) {
    switch (r) {
        case Route::metrics:
            return {"200 OK", ""};
        case Route::not_found:
            return {"404 Not Found", "not found: the page is /metrics\n"};
        case Route::method_not_allowed:
            return {"405 Method Not Allowed", "only GET\n"};
        case Route::bad_request:
            break;
    }
    return {"400 Bad Request", "bad request\n"};
}

}  // namespace

Route route_request(std::string_view head) {
    // RFC 9112 §3: method SP request-target SP HTTP-version, then CRLF.
    auto eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    auto sp1 = line.find(' ');
    auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return Route::bad_request;
    std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1),
                     version = line.substr(sp2 + 1);
    if (method.empty() || target.empty() || !version.starts_with("HTTP/1.") || version.size() != 8)
        return Route::bad_request;
    if (method != "GET") return Route::method_not_allowed;
    std::string_view path = target.substr(0, target.find('?'));
    return path == "/metrics" ? Route::metrics : Route::not_found;
}

std::string http_response(Route route, std::string_view body) {
    Status s = status_of(route);
    std::string_view content = route == Route::metrics ? body : std::string_view(s.body);
    std::string out = "HTTP/1.0 ";
    out += s.line;
    out += "\r\nContent-Type: ";
    out += route == Route::metrics ? "text/plain; version=0.0.4; charset=utf-8"
                                   : "text/plain; charset=utf-8";
    out += "\r\nContent-Length: ";
    out += std::to_string(content.size());
    if (route == Route::method_not_allowed) out += "\r\nAllow: GET";
    out += "\r\nConnection: close\r\n\r\n";
    out += content;
    return out;
}

}  // namespace dr::relay
