#pragma once
// The HTTP client of the tests: one request per connection (HTTP/1.1 with Connection: close, or
// HTTP/1.0), from a chosen 127.0.0.x source address, read until the server closes. It keeps the
// raw bytes and splits them into interim (1xx) heads, the final head and the body, so a test can
// check exactly where corral put its Set-Cookie. No chunked decoding: the sticky tests' servers
// close after the body, and HTTP/1.0 keeps other servers (Prometheus) from chunking.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corral::test {

using namespace std::chrono_literals;

struct HttpHead {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> fields; // in order, names as sent

  /// Every value of the field `name` (case-insensitive), in order.
  std::vector<std::string> values(std::string_view name) const;
};

struct HttpResponse {
  std::vector<HttpHead> interim; // 1xx heads before the final one
  HttpHead head;                 // the final head; status 0 when none arrived
  std::string body;              // everything after the final head, up to the server's close
  std::string raw;               // every byte received
  std::string error;             // why the exchange failed; empty when a final head arrived
  bool reset = false;            // the connection ended with RST rather than FIN
  std::string client;            // "ADDRESS:PORT" of our end, as corral's access log names it

  bool ok() const { return error.empty(); }
  /// The value of cookie `name` from this response's Set-Cookie fields, if one sets it.
  std::optional<std::string> cookieSet(std::string_view name) const;
  /// The full Set-Cookie field value that sets `name`, attributes included.
  std::optional<std::string> setCookieField(std::string_view name) const;
};

struct HttpRequest {
  std::string method = "GET";
  std::string path = "/";
  std::string version = "HTTP/1.1"; // sent with "Connection: close"; HTTP/1.0 without
  std::string host;                 // the Host field; the address when empty
  std::string cookie;               // the Cookie field value; none when empty
  std::vector<std::pair<std::string, std::string>> fields; // more header fields, in order
  std::string body;                 // sent with Content-Length unless a GET without body
  std::string source = "127.0.0.1"; // local address to bind before connecting
};

/// Sends `request` to `address` ("127.0.0.1:PORT") over a new connection, and reads the
/// response until the server closes or the deadline passes.
HttpResponse httpRequest(std::string_view address, const HttpRequest& request,
                         std::chrono::milliseconds timeout = 5s);
HttpResponse httpGet(std::string_view address, const HttpRequest& request,
                     std::chrono::milliseconds timeout = 5s);
/// A plain HTTP/1.0 GET of `path`, as a scraper sends it.
HttpResponse httpGet(std::string_view address, std::string_view path,
                     std::chrono::milliseconds timeout = 10s);

/// Percent-encodes everything but RFC 3986 unreserved characters, for a query parameter.
std::string percentEncode(std::string_view text);

/// Splits the bytes of one exchange into interim heads, final head and body. Sets error when no
/// complete final head is there.
HttpResponse parseResponse(std::string raw);

/// A loopback address that no earlier call in this process returned (127.1.0.1, 127.1.0.2, ...).
/// A connection from it is the only one with its client address in corral's access log, whereas
/// ports alone repeat: after the passive close the kernel hands the same port out again.
std::string uniqueLoopbackAddress();

/// The first word of a demo backend's reply ("s2 pid 41 request 7\n" -> "s2"): who served it.
std::string servedBy(const HttpResponse& response);

} // namespace corral::test
