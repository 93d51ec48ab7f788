#pragma once
// Text output shared by `ctl status` and `ctl top`: column-aligned tables and pm2-style uptimes.

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace corral::cli {

// Column-aligned text, like `pm2 list` without the box drawing.
class Table {
public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  /// `paint(row, column, padded_text)` may wrap a cell in colour codes after it is padded, so
  /// that the codes do not count as width. Row 0 is the header.
  using Paint = std::string (*)(size_t row, size_t column, const std::string& cell,
                                const void* context);
  void print(std::ostream& out, Paint paint = nullptr, const void* context = nullptr) const;

private:
  std::vector<std::vector<std::string>> rows_;
};

/// pm2's style: the largest whole unit ("42s", "5m", "3h", "2D"); "-" when unknown.
std::string formatUptime(std::optional<double> seconds);

} // namespace corral::cli
