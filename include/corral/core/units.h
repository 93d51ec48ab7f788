#pragma once
// Durations ("250ms", "5s", "1m", "2h") and sizes ("16KiB", "1MiB", "512") as written in YAML.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "corral/core/error.h"

namespace corral {

/// Parses an integer followed by a unit: ms, s, m or h ("0" alone is also accepted).
Result<std::chrono::milliseconds> parseDuration(std::string_view text);

/// Parses an integer, optionally followed by B, KiB, MiB or GiB (also KB/MB/GB as powers of 2).
Result<uint64_t> parseSize(std::string_view text);

/// The shortest exact form: 1500ms, 5s, 2m, 1h.
std::string formatDuration(std::chrono::milliseconds duration);

} // namespace corral
