#include "config/diagnostics.h"

#include <algorithm>

#include <fmt/format.h>

namespace corral::config {

void Diagnostics::error(const YAML::Mark& mark, std::string key, std::string message) {
  add(mark, std::move(key), std::move(message), false);
}

void Diagnostics::warn(const YAML::Mark& mark, std::string key, std::string message) {
  add(mark, std::move(key), std::move(message), true);
}

void Diagnostics::errorAt(const std::string& key, std::string message) {
  add(find(key), key, std::move(message), false);
}

void Diagnostics::warnAt(const std::string& key, std::string message) {
  add(find(key), key, std::move(message), true);
}

void Diagnostics::remember(const std::string& key, const YAML::Mark& mark) {
  marks_.insert_or_assign(key, mark);
}

bool Diagnostics::hasErrors() const {
  return std::any_of(diagnostics_.begin(), diagnostics_.end(),
                     [](const Diagnostic& d) { return !d.warning; });
}

std::vector<Diagnostic> Diagnostics::take() {
  std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::pair(a.line, a.column) < std::pair(b.line, b.column);
                   });
  return std::exchange(diagnostics_, {});
}

namespace {

// A message quotes the value it is about, and a value can be megabytes long: keep the first
// kMaxLength bytes (whole UTF-8 characters) and say how much was left out.
std::string shorten(std::string text) {
  constexpr size_t kMaxLength = 1000;
  if (text.size() <= kMaxLength) {
    return text;
  }
  size_t cut = kMaxLength;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) {
    --cut; // not inside a multi-byte character
  }
  const size_t left_out = text.size() - cut;
  text.resize(cut);
  return text + fmt::format("... ({} more bytes)", left_out);
}

} // namespace

// yaml-cpp counts from 0 and uses -1 for "no position" (an empty document, for instance).
void Diagnostics::add(const YAML::Mark& mark, std::string key, std::string message, bool warning) {
  const bool known = !mark.is_null();
  diagnostics_.push_back(Diagnostic{.file = file_,
                                    .line = known ? mark.line + 1 : 0,
                                    .column = known ? mark.column + 1 : 0,
                                    .key = shorten(std::move(key)),
                                    .message = shorten(std::move(message)),
                                    .warning = warning});
}

// "backends[0].servers[2].weight" falls back to "backends[0].servers[2]", then to
// "backends[0].servers", and so on: a key that was never written is reported where its section is.
YAML::Mark Diagnostics::find(std::string key) const {
  while (true) {
    if (auto it = marks_.find(key); it != marks_.end()) {
      return it->second;
    }
    if (key.empty()) {
      return YAML::Mark::null_mark();
    }
    const size_t cut = key.find_last_of(".[");
    key.resize(cut == std::string::npos ? 0 : cut);
  }
}

} // namespace corral::config
