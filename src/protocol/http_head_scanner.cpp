#include "protocol/http_head_scanner.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace corral::protocol::detail {
namespace {

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

// State shared with the C callbacks through http_parser::data.
struct Collector {
  std::string_view collect;
  bool in_collected = false;    // the current header is one we collect
  bool value_started = false;   // its value has had a callback already
  bool folded = false;
  bool head_complete = false;
  std::string_view target;
  std::vector<std::string_view> values;
};

Collector& collectorOf(http_parser* parser) { return *static_cast<Collector*>(parser->data); }

int onHeaderField(http_parser* parser, const char* at, size_t length) {
  Collector& collector = collectorOf(parser);
  // The whole buffer is given to one http_parser_execute() call, so a name arrives in one piece.
  collector.in_collected = equalsIgnoringCase({at, length}, collector.collect);
  collector.value_started = false;
  return 0;
}

int onUrl(http_parser* parser, const char* at, size_t length) {
  collectorOf(parser).target = {at, length}; // one piece: the whole buffer is one execute() call
  return 0;
}

int onHeaderValue(http_parser* parser, const char* at, size_t length) {
  Collector& collector = collectorOf(parser);
  if (!collector.in_collected) {
    return 0;
  }
  if (collector.value_started) { // a second piece of one value: an obs-fold continuation line
    collector.folded = true;
    return 1;
  }
  collector.value_started = true;
  collector.values.emplace_back(at, length);
  return 0;
}

int onHeadersComplete(http_parser* parser) {
  collectorOf(parser).head_complete = true;
  http_parser_pause(parser, 1); // stop at the end of the head: bodies are relayed, not parsed
  return 0;
}

// libhttp-parser, built lenient (HTTP_PARSER_STRICT=0) as Debian ships it, takes any byte after a
// CR as the LF that ends a line. A reader that disagrees with the server about where a line or the
// head ends invites request smuggling, so every CR must be followed by LF.
bool hasOnlyCrlfOrLfLineEnds(std::string_view head) {
  for (size_t cr = head.find('\r'); cr != std::string_view::npos; cr = head.find('\r', cr + 1)) {
    if (cr + 1 >= head.size() || head[cr + 1] != '\n') {
      return false;
    }
  }
  return head.ends_with('\n');
}

HeadScan bad(std::string message, ParseError code = ParseError::Malformed) {
  return HeadScan{.progress = Progress::Bad, .error = std::move(message), .code = code};
}

// The head has not ended within the bytes given: an error, a head too long, or more to come.
HeadScan incompleteHead(const http_parser& parser, size_t window_size, size_t max_head_size) {
  const auto code = HTTP_PARSER_ERRNO(&parser);
  if (code != HPE_OK) {
    return bad(fmt::format("not an HTTP/1.x head: {}", http_errno_description(code)));
  }
  if (parser.http_major > 1) { // seen as soon as the version is read: do not wait for the head
    return bad(fmt::format("HTTP/{} is not HTTP/1.x", parser.http_major));
  }
  if (window_size == max_head_size) {
    return bad(fmt::format("head longer than {} bytes", max_head_size), ParseError::TooLong);
  }
  return HeadScan{};
}

} // namespace

HeadScan scanHead(std::string_view bytes, http_parser_type type, size_t max_head_size,
                  std::string_view collect) {
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_url = onUrl;
  settings.on_header_field = onHeaderField;
  settings.on_header_value = onHeaderValue;
  settings.on_headers_complete = onHeadersComplete;
  Collector collector{.collect = collect};
  http_parser parser;
  http_parser_init(&parser, type);
  parser.data = &collector;

  const std::string_view window = bytes.substr(0, max_head_size);
  const size_t parsed = http_parser_execute(&parser, &settings, window.data(), window.size());
  if (collector.folded) {
    return bad(fmt::format("folded {} header (obs-fold, RFC 7230 §3.2.4)", collect));
  }
  if (!collector.head_complete) {
    return incompleteHead(parser, window.size(), max_head_size);
  }
  const std::string_view head = window.substr(0, parsed + 1);
  if (!hasOnlyCrlfOrLfLineEnds(head)) {
    return bad("not an HTTP/1.x head: CR without LF");
  }
  if (parser.http_major != 1) {
    return bad(fmt::format("HTTP/{}.{} is not HTTP/1.x", parser.http_major, parser.http_minor));
  }
  // Paused in on_headers_complete, the parser stops on the final LF of the blank line.
  return HeadScan{.progress = Progress::Done,
                  .size = parsed + 1,
                  .status = static_cast<int>(parser.status_code),
                  .values = std::move(collector.values),
                  .target = collector.target};
}

} // namespace corral::protocol::detail
