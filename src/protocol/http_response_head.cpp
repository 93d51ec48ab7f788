#include "corral/protocol/http_response_head.h"

#include "protocol/http_head_scanner.h"

namespace corral::protocol {
namespace {

// 1xx heads other than 101 are interim: the final head follows (RFC 9110 §15.2).
bool isInterim(int status) { return status >= 100 && status < 200 && status != 101; }

// The head ends with its blank line: "\r\n" or a bare "\n" (scanHead accepts both).
std::string withHeaderBeforeBlankLine(std::string_view head, std::string_view set_cookie_value) {
  const bool crlf = head.size() >= 2 && head[head.size() - 2] == '\r';
  const std::string_view line_end = crlf ? "\r\n" : "\n";
  const std::string_view before_blank = head.substr(0, head.size() - line_end.size());
  std::string out;
  out.reserve(head.size() + set_cookie_value.size() + 16);
  out.append(before_blank).append("Set-Cookie: ").append(set_cookie_value).append(line_end);
  out.append(line_end);
  return out;
}

} // namespace

Parsed<ResponseHead> insertSetCookie(std::string_view bytes, std::string_view set_cookie_value,
                                     size_t max_head_size) {
  detail::HeadScan scan = detail::scanHead(bytes, HTTP_RESPONSE, max_head_size, {});
  switch (scan.progress) {
  case Progress::NeedMore:
    return Parsed<ResponseHead>::needMore();
  case Progress::Bad:
    return Parsed<ResponseHead>::bad(std::move(scan.error), scan.code);
  case Progress::Done:
    break;
  }
  const std::string_view head = bytes.substr(0, scan.size);
  const bool final = !isInterim(scan.status);
  return Parsed<ResponseHead>::done(ResponseHead{
      .bytes = final ? withHeaderBeforeBlankLine(head, set_cookie_value) : std::string(head),
      .consumed = scan.size,
      .status = scan.status,
      .final = final});
}

} // namespace corral::protocol
