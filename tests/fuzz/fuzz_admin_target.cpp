// Fuzz target: the admin API's request target and Authorization header, as AdminServer reads them.
// The input is the target (what follows the method on the request line), then '\n', then the
// Authorization value. libevent splits the target as it does for a request (nonconformant URIs
// allowed); then splitPath() and parseQuery() decode it and BearerToken checks the header.

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include <event2/http.h>

#include "admin/bearer_token.h"
#include "admin/request_path.h"

#include "tests/fuzz/fuzz_check.h"

using namespace corral::admin;

namespace {

// One path segment per '/' after the leading one: "%2F" is decoded after the split.
void checkPath(std::string_view path) {
  const auto segments = splitPath(path);
  const std::string_view rest = path.starts_with('/') ? path.substr(1) : path;
  FUZZ_CHECK(segments.size() == 1 + static_cast<size_t>(std::count(rest.begin(), rest.end(), '/')));
  size_t decoded = 0;
  for (const std::string& segment : segments) {
    decoded += segment.size();
  }
  FUZZ_CHECK(decoded <= rest.size()); // decoding only ever shortens
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const size_t newline = std::min(bytes.find('\n'), bytes.size());
  const std::string target(bytes.substr(0, newline));
  const std::string_view authorization = bytes.substr(std::min(bytes.size(), newline + 1));

  // As evhttp does, only a NUL-free target reaches the parser (it is read as a C string).
  if (target.find('\0') == std::string::npos) {
    evhttp_uri* uri = evhttp_uri_parse_with_flags(target.c_str(), EVHTTP_URI_NONCONFORMANT);
    if (uri != nullptr) {
      const char* path = evhttp_uri_get_path(uri);
      checkPath(path == nullptr ? "" : path);
      const char* query = evhttp_uri_get_query(uri);
      (void)parseQuery(query == nullptr ? "" : query);
      evhttp_uri_free(uri);
    }
  }
  checkPath(target);
  (void)parseQuery(target);

  static const auto token = BearerToken::fromText("s3cret-token");
  FUZZ_CHECK(token.has_value());
  if (token->accepts(authorization)) { // only the token itself, after the scheme, opens the API
    FUZZ_CHECK(authorization.find("s3cret-token") != std::string_view::npos);
  }
  return 0;
}
