#include "corral/core/units.h"

#include <charconv>
#include <limits>

#include <fmt/format.h>

namespace corral {
namespace {

// Splits "250ms" into 250 and "ms"; fails when there is no leading number.
bool splitNumber(std::string_view text, uint64_t& number, std::string_view& unit) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, number);
  if (ec != std::errc() || ptr == text.data()) {
    return false;
  }
  unit = std::string_view(ptr, static_cast<size_t>(end - ptr));
  return true;
}

} // namespace

Result<std::chrono::milliseconds> parseDuration(std::string_view text) {
  auto bad = [&] {
    return fail(ErrorCode::BadInput,
                fmt::format("expected a duration such as 250ms, 5s or 1m, got \"{}\"", text));
  };
  uint64_t number = 0;
  std::string_view unit;
  if (!splitNumber(text, number, unit)) {
    return bad();
  }
  uint64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60 * 1000;
  } else if (unit == "h") {
    scale = 3600 * 1000;
  } else if (unit.empty() && number == 0) {
    scale = 1;
  } else {
    return bad();
  }
  if (number > std::numeric_limits<int64_t>::max() / scale / 1000) {
    return fail(ErrorCode::BadInput, fmt::format("duration \"{}\" is too large", text));
  }
  return std::chrono::milliseconds(static_cast<int64_t>(number * scale));
}

Result<uint64_t> parseSize(std::string_view text) {
  uint64_t number = 0;
  std::string_view unit;
  if (!splitNumber(text, number, unit)) {
    return fail(ErrorCode::BadInput,
                fmt::format("expected a size such as 512, 16KiB or 1MiB, got \"{}\"", text));
  }
  uint64_t scale = 0;
  if (unit.empty() || unit == "B") {
    scale = 1;
  } else if (unit == "KiB" || unit == "KB" || unit == "K") {
    scale = uint64_t{1} << 10;
  } else if (unit == "MiB" || unit == "MB" || unit == "M") {
    scale = uint64_t{1} << 20;
  } else if (unit == "GiB" || unit == "GB" || unit == "G") {
    scale = uint64_t{1} << 30;
  } else {
    return fail(ErrorCode::BadInput,
                fmt::format("expected a size such as 512, 16KiB or 1MiB, got \"{}\"", text));
  }
  if (number > std::numeric_limits<uint64_t>::max() / scale) {
    return fail(ErrorCode::BadInput, fmt::format("size \"{}\" is too large", text));
  }
  return number * scale;
}

std::string formatDuration(std::chrono::milliseconds duration) {
  const int64_t ms = duration.count();
  if (ms != 0 && ms % 3600000 == 0) {
    return fmt::format("{}h", ms / 3600000);
  }
  if (ms != 0 && ms % 60000 == 0) {
    return fmt::format("{}m", ms / 60000);
  }
  if (ms != 0 && ms % 1000 == 0) {
    return fmt::format("{}s", ms / 1000);
  }
  return fmt::format("{}ms", ms);
}

} // namespace corral
