// The HTTP texts of the metrics page, without I/O (what fuzz_metrics drives): which answer
// a request head gets, and the whole response. Entry points: route_request(),
// http_response(). A malformed head is Route::bad_request, never an exception.
#pragma once

#include <string>
#include <string_view>

namespace dr::relay {

enum class Route { metrics, not_found, method_not_allowed, bad_request };

// The request head up to and without the blank line: "GET /metrics HTTP/1.1\r\n…".
// A query string is ignored ("/metrics?x" is the page).
Route route_request(std::string_view head);

// A complete response with Content-Length and "Connection: close".
std::string http_response(Route route, std::string_view body);

}  // namespace dr::relay
