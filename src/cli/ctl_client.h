#pragma once
// A small blocking HTTP/1.1 client for the admin API, enough for `corral ctl`: one request per
// connection, a bearer token, bodies read whole or streamed (`logs --follow`). Responses are
// parsed with http-parser, so chunked and Content-Length bodies are both handled.

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "corral/core/address.h"
#include "corral/core/error.h"

namespace corral::cli {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers; // names in lower case
  std::string body;                            // empty when streamed
};

class AdminClient {
public:
  /// `token` empty: no Authorization header.
  AdminClient(HostPort address, std::string token,
              std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : address_(std::move(address)), token_(std::move(token)), timeout_(timeout) {}

  /// Errors: the admin API cannot be reached ("cannot reach the admin API at 127.0.0.1:9900:
  /// connection refused"), does not answer within the timeout, or answers with something that is
  /// not HTTP. Any HTTP status, 4xx and 5xx included, is a response.
  Result<HttpResponse> get(std::string_view target) const;
  Result<HttpResponse> post(std::string_view target, std::string_view json_body = "{}") const;
  /// A GET whose 2xx body goes to `on_body` piece by piece as it arrives, with no read timeout;
  /// `on_body` returns false to hang up. Returns when the server ends the body or on hang-up. An
  /// error status's body is read whole into the response instead.
  Result<HttpResponse> stream(std::string_view target,
                              const std::function<bool(std::string_view)>& on_body) const;

  /// "127.0.0.1:9900" or "[::1]:9900".
  std::string addressText() const;

private:
  using BodySink = std::function<bool(std::string_view)>;
  Result<HttpResponse> exchange(std::string_view method, std::string_view target,
                                std::string_view body, const BodySink* sink) const;
  Result<int> connectSocket(bool streaming) const;

  HostPort address_;
  std::string token_;
  std::chrono::milliseconds timeout_;
};

/// Percent-encodes a name for one path segment or query value: "app#0" -> "app%230". Everything
/// but RFC 3986 unreserved characters is encoded, '/' and '+' included.
std::string percentEncode(std::string_view text);

} // namespace corral::cli
