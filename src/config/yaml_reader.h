#pragma once
// Typed reading of YAML values with their source positions (private to config/). Every read
// reports its own problem, with the value's line, column and key path, and returns false so the
// caller moves on: the loader collects every error of a file in one pass.

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "corral/config/config.h"
#include "corral/config/loader.h"

#include "config/diagnostics.h"

namespace corral::config {

/// What every Field of one load shares.
struct ReadContext {
  Diagnostics& diagnostics;
  std::filesystem::path base_dir; // relative paths resolve here; empty: leave them as written
};

/// One name of an enumeration as written in YAML.
template <class E>
struct Choice {
  std::string_view name;
  E value;
};

/// One YAML value together with its key path ("backends[0].health_check.interval") and position.
/// A read that fails leaves its target untouched, so the field keeps its documented default.
class Field {
public:
  Field(ReadContext& context, YAML::Node node, std::string path, const YAML::Mark& mark);

  const std::string& path() const { return path_; }
  const YAML::Node& node() const { return node_; }
  const YAML::Mark& mark() const { return mark_; }
  ReadContext& context() const { return *context_; }
  void error(std::string message) const;
  void warn(std::string message) const;
  /// Reports at this map's `key` (its path even when absent; its position when present).
  void errorAt(std::string_view key, std::string message) const;
  void warnAt(std::string_view key, std::string message) const;

  /// The map's entries whose key is one of `known`, as (index into known, value); reports
  /// unknown keys (with the closest known one) and repeated keys. nullopt when not a map.
  std::optional<std::vector<std::pair<size_t, Field>>>
  entries(std::span<const std::string_view> known) const;
  /// The list's items, "path[i]"; null counts as an empty list.
  std::vector<Field> items() const;
  bool has(std::string_view key) const;
  std::optional<Field> find(std::string_view key) const;
  /// Reports "required key is missing" unless this map has `key`.
  void require(std::string_view key) const;

  bool read(std::string& out) const; // any non-empty scalar
  bool read(bool& out) const;
  bool read(uint32_t& out, uint32_t min, uint32_t max) const;
  bool read(Duration& out, Duration min) const;
  bool readSize(uint64_t& out, uint64_t min, uint64_t max) const;
  bool read(std::vector<std::string>& out) const;
  bool read(std::map<std::string, std::string>& out) const;
  /// host:port, where host may be a DNS name.
  bool read(HostPort& out) const;
  /// A numeric IP:port to bind.
  bool readListen(HostPort& out) const;
  /// A file path, resolved against the config file's folder when relative.
  bool readPath(std::string& out) const;
  /// "auto" (stored as 0) or an integer from 1 to max.
  bool readAutoOrCount(uint32_t& out, uint32_t max) const;
  /// "first-last" or a single number, each within [min, max]; first <= last.
  bool readRange(uint32_t& first, uint32_t& last, uint32_t min, uint32_t max) const;
  /// A name for frontends and backends: it appears in metrics labels and admin URLs.
  bool readName(std::string& out) const;

  template <class E, size_t N>
  bool read(E& out, const std::array<Choice<E>, N>& choices) const;

private:
  /// The scalar's text, or nullopt after reporting "expected <what>, got <what it is>".
  std::optional<std::string> scalar(std::string_view expected) const;
  /// The index of the scalar in `names`, or nullopt after reporting it with a suggestion.
  std::optional<size_t> choose(std::span<const std::string_view> names) const;

  ReadContext* context_;
  YAML::Node node_;
  std::string path_;
  YAML::Mark mark_;
};

/// How a section reads one of its keys.
template <class T>
struct KeyRule {
  std::string_view key;
  void (*read)(const Field& value, T& out);
};

/// Reads a map section through its table of keys: the one table per section that both reads the
/// values and, through Field::entries, rejects unknown keys with a suggestion (STYLE.md §5).
template <class T, size_t N>
bool readSection(const Field& section, T& out, const KeyRule<T> (&rules)[N]) {
  std::array<std::string_view, N> known;
  for (size_t i = 0; i < N; ++i) {
    known[i] = rules[i].key;
  }
  auto entries = section.entries(known);
  if (!entries) {
    return false;
  }
  for (const auto& [index, value] : *entries) {
    rules[index].read(value, out);
  }
  return true;
}

/// Edit distance with adjacent transpositions (optimal string alignment), case-insensitive.
size_t editDistance(std::string_view a, std::string_view b);

/// Longer words get no "did you mean": every key and choice is far shorter.
constexpr size_t kMaxSuggestedWordLength = 64;

/// The known word closest to `word`, when it is close enough to be a likely typo.
std::optional<std::string_view> closestWord(std::string_view word,
                                            std::span<const std::string_view> known);

template <class E, size_t N>
bool Field::read(E& out, const std::array<Choice<E>, N>& choices) const {
  std::array<std::string_view, N> names;
  for (size_t i = 0; i < N; ++i) {
    names[i] = choices[i].name;
  }
  const std::optional<size_t> index = choose(names);
  if (!index) {
    return false;
  }
  out = choices[*index].value;
  return true;
}

} // namespace corral::config
