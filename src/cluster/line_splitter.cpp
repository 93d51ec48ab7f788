#include "cluster/line_splitter.h"

namespace corral::cluster {

void LineSplitter::feed(std::string_view bytes, const OnLine& on_line) {
  while (!bytes.empty()) {
    const size_t newline = bytes.find('\n');
    append(bytes.substr(0, newline), on_line);
    if (newline == std::string_view::npos) {
      return;
    }
    emit(on_line);
    bytes.remove_prefix(newline + 1);
  }
}

void LineSplitter::flush(const OnLine& on_line) {
  if (!partial_.empty() || cut_) {
    emit(on_line);
  }
}

void LineSplitter::append(std::string_view part, const OnLine& on_line) {
  if (cut_) {
    return;
  }
  const size_t room = max_line_length_ - partial_.size();
  if (part.size() <= room) {
    partial_.append(part);
    return;
  }
  partial_.append(part.substr(0, room));
  partial_.append(kCutMarker);
  on_line(partial_);
  partial_.clear();
  cut_ = true;
}

// A cut line was already emitted when it reached the limit; its newline only ends the cut.
void LineSplitter::emit(const OnLine& on_line) {
  if (cut_) {
    cut_ = false;
    return;
  }
  if (!partial_.empty() && partial_.back() == '\r') {
    partial_.pop_back();
  }
  on_line(partial_);
  partial_.clear();
}

} // namespace corral::cluster
