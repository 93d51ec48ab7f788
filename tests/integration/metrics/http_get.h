#pragma once
// Plain HTTP GET for the metrics tests: /metrics of corral, /api/v1/query of Prometheus. HTTP/1.0
// with the connection closed by the server, so the body is everything after the head.

#include <chrono>
#include <string>
#include <string_view>

namespace corral::test {

struct HttpResponse {
  int status = 0; // 0: no response (see body for why)
  std::string body;
};

/// GET `target` ("/metrics") from "127.0.0.1:PORT".
HttpResponse httpGet(std::string_view address, std::string_view target,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// Percent-encodes everything but RFC 3986 unreserved characters, for a query parameter.
std::string percentEncode(std::string_view text);

} // namespace corral::test
