#pragma once
// Where the loader's findings go (private to config/).

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "corral/config/loader.h"

namespace corral::config {

/// Collects the diagnostics of one file and remembers where each key path was written, so that
/// checks which run on the finished Config (validate.cpp) still point at the right line.
class Diagnostics {
public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  void error(const YAML::Mark& mark, std::string key, std::string message);
  void warn(const YAML::Mark& mark, std::string key, std::string message);
  /// Reports at the position remembered for `key`, else at its nearest remembered parent.
  void errorAt(const std::string& key, std::string message);
  void warnAt(const std::string& key, std::string message);
  void remember(const std::string& key, const YAML::Mark& mark);
  bool hasErrors() const;
  /// Everything reported so far, in file order.
  std::vector<Diagnostic> take();

private:
  void add(const YAML::Mark& mark, std::string key, std::string message, bool warning);
  YAML::Mark find(std::string key) const;

  std::string file_;
  std::vector<Diagnostic> diagnostics_;
  std::unordered_map<std::string, YAML::Mark> marks_;
};

} // namespace corral::config
