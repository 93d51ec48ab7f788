#pragma once
// Turns the bytes an instance writes to a pipe into lines. Reads end anywhere, so a partial line
// waits for its newline; a line longer than the limit is cut (its rest up to the newline is
// dropped), so a child that never writes a newline cannot grow corral's memory.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace corral::cluster {

class LineSplitter {
public:
  using OnLine = std::function<void(std::string_view line)>;

  explicit LineSplitter(size_t max_line_length) : max_line_length_(max_line_length) {}

  /// Calls `on_line` for every line that `bytes` completes, without "\n" or "\r\n".
  void feed(std::string_view bytes, const OnLine& on_line);
  /// Emits the unterminated rest, if any (the writer closed the pipe or exited).
  void flush(const OnLine& on_line);

  static constexpr std::string_view kCutMarker = " [cut]";

private:
  void append(std::string_view part, const OnLine& on_line);
  void emit(const OnLine& on_line);

  size_t max_line_length_;
  std::string partial_;
  bool cut_ = false; // the current line passed the limit: drop bytes until its newline
};

} // namespace corral::cluster
