#pragma once
// The result of feeding bytes to an incremental parser. The proxy reads a connection in pieces and
// calls a parser again with the longer buffer after every read, so "not enough bytes yet" must be
// told apart from "these bytes can never be valid". This header avoids <expected> on purpose: the
// fuzz targets also build with clang 14 (-fsanitize=fuzzer), which cannot compile it from libstdc++ 12.

#include <string>
#include <utility>

namespace corral::protocol {

enum class Progress {
  NeedMore, // a prefix of something valid: call again with more bytes
  Bad,      // no continuation can make these bytes valid: close the connection
  Done,     // value holds the result
};

/// Why bytes were Bad, for callers that act on the kind: compare this, never the message text.
enum class ParseError {
  None,      // not Bad
  Malformed, // the bytes break the format (or are not this protocol at all)
  TooLong,   // the limit on the head or line was reached before its end: a valid start, too big
};

template <class T>
struct Parsed {
  Progress progress = Progress::NeedMore;
  T value{};         // meaningful when progress == Done
  std::string error; // why, when progress == Bad: for logs and people
  ParseError code = ParseError::None; // the kind of `error`, when progress == Bad

  static Parsed needMore() { return Parsed{}; }
  static Parsed bad(std::string why, ParseError code = ParseError::Malformed) {
    return Parsed{.progress = Progress::Bad, .value = T{}, .error = std::move(why), .code = code};
  }
  static Parsed tooLong(std::string why) { return bad(std::move(why), ParseError::TooLong); }
  static Parsed done(T value) { return Parsed{.progress = Progress::Done, .value = std::move(value)}; }

  bool isDone() const { return progress == Progress::Done; }
  bool isBad() const { return progress == Progress::Bad; }
  bool needsMore() const { return progress == Progress::NeedMore; }
};

} // namespace corral::protocol
