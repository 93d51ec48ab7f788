#include "table.h"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

namespace corral::cli {

void Table::print(std::ostream& out, Paint paint, const void* context) const {
  std::vector<size_t> widths(rows_.front().size(), 0);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  for (size_t r = 0; r < rows_.size(); ++r) {
    const auto& row = rows_[r];
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      std::string text = i + 1 < row.size() ? fmt::format("{:<{}}", row[i], widths[i]) : row[i];
      if (i + 1 == row.size()) {
        text.erase(text.find_last_not_of(' ') + 1); // no trailing blanks on the last column
      }
      line += paint != nullptr ? paint(r, i, text, context) : text;
      if (i + 1 < row.size()) {
        line += "  ";
      }
    }
    out << line << '\n';
  }
}

std::string formatUptime(std::optional<double> seconds) {
  if (!seconds) {
    return "-";
  }
  const auto s = static_cast<uint64_t>(*seconds);
  if (s < 60) {
    return fmt::format("{}s", s);
  }
  if (s < 3600) {
    return fmt::format("{}m", s / 60);
  }
  return s < 86400 ? fmt::format("{}h", s / 3600) : fmt::format("{}D", s / 86400);
}

} // namespace corral::cli
