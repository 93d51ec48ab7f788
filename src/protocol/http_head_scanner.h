#pragma once
// Private: runs libhttp-parser over the start of a buffer up to the end of the first message head.
//
// Why libhttp-parser rather than a parser of our own: it is the Debian-packaged parser that Node.js
// used for a decade, fuzzed continuously by OSS-Fuzz, and it already checks what a strict reader
// must (method and header-name tokens, header-value characters, the version syntax, bare-LF line
// ends, a size cap). What it does not do, we add here: a caller-given head limit, HTTP/1.x only,
// and the offset where the head ends. The scan is stateless: each call parses the buffer from the
// beginning, which costs little because heads are bounded (max_header_size, 16 KiB by default) and
// keeps the public functions pure.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "corral/protocol/parsed.h"

#include <http_parser.h>

namespace corral::protocol::detail {

struct HeadScan {
  Progress progress = Progress::NeedMore;
  std::string error;             // when Bad
  ParseError code = ParseError::None; // when Bad
  size_t size = 0;               // bytes of the head, blank line included, when Done
  int status = 0;                // responses only
  std::vector<std::string_view> values; // values of the headers named `collect`, in order
  std::string_view target;              // requests only: the request-target, as sent
};

/// Scans the head of a request or response (`type`) at the start of `bytes`, reading at most
/// `max_head_size` bytes. Collects the values of headers whose name equals `collect`
/// (case-insensitive); a folded (obs-fold) value of such a header is Bad, since it is not one
/// contiguous piece of the input.
HeadScan scanHead(std::string_view bytes, http_parser_type type, size_t max_head_size,
                  std::string_view collect);

} // namespace corral::protocol::detail
