#include "corral/protocol/http_request_head.h"

#include "protocol/http_head_scanner.h"

namespace corral::protocol {

Parsed<RequestHead> parseRequestHead(std::string_view bytes, size_t max_head_size,
                                     std::string_view header) {
  detail::HeadScan scan = detail::scanHead(bytes, HTTP_REQUEST, max_head_size, header);
  switch (scan.progress) {
  case Progress::NeedMore:
    return Parsed<RequestHead>::needMore();
  case Progress::Bad:
    return Parsed<RequestHead>::bad(std::move(scan.error), scan.code);
  case Progress::Done:
    break;
  }
  return Parsed<RequestHead>::done(RequestHead{
      .size = scan.size, .header_values = std::move(scan.values), .target = scan.target});
}

std::optional<std::string_view> queryParameter(std::string_view target, std::string_view name) {
  const size_t question = target.find('?');
  if (question == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view query = target.substr(question + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t equals = pair.find('=');
    if (equals != std::string_view::npos && pair.substr(0, equals) == name) {
      const std::string_view value = pair.substr(equals + 1);
      return value.empty() ? std::nullopt : std::optional(value);
    }
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
  }
  return std::nullopt;
}

std::optional<std::string_view> pathPrefix(std::string_view target, uint32_t segments) {
  if (!target.starts_with('/')) { // absolute-form (RFC 7230 §5.3.2): skip scheme://authority
    const size_t scheme = target.find("://");
    const size_t path = scheme == std::string_view::npos ? scheme : target.find('/', scheme + 3);
    if (path == std::string_view::npos) {
      return std::nullopt;
    }
    target = target.substr(path);
  }
  target = target.substr(0, target.find_first_of("?#"));
  size_t end = 0;
  for (uint32_t taken = 0; taken < segments && end < target.size(); ++taken) {
    const size_t next = target.find('/', end + 1);
    end = next == std::string_view::npos ? target.size() : next;
  }
  // "/" and "//" carry no segment a tenant could be named by.
  if (target.substr(0, end).find_first_not_of('/') == std::string_view::npos) {
    return std::nullopt;
  }
  return target.substr(0, end);
}

} // namespace corral::protocol
