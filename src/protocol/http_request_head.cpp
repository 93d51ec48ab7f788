#include "corral/protocol/http_request_head.h"

#include "protocol/http_head_scanner.h"

namespace corral::protocol {

Parsed<RequestHead> parseRequestHead(std::string_view bytes, size_t max_head_size) {
  detail::HeadScan scan = detail::scanHead(bytes, HTTP_REQUEST, max_head_size, "Cookie");
  switch (scan.progress) {
  case Progress::NeedMore:
    return Parsed<RequestHead>::needMore();
  case Progress::Bad:
    return Parsed<RequestHead>::bad(std::move(scan.error), scan.code);
  case Progress::Done:
    break;
  }
  return Parsed<RequestHead>::done(
      RequestHead{.size = scan.size, .cookie_headers = std::move(scan.values)});
}

} // namespace corral::protocol
