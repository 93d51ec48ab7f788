#include "config/yaml_reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

#include "corral/core/address.h"
#include "corral/core/units.h"

namespace corral::config {
namespace {

// What a node is, for "expected X, got Y".
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
  case YAML::NodeType::Map:
    return "a map";
  case YAML::NodeType::Sequence:
    return "a list";
  case YAML::NodeType::Scalar:
    return fmt::format("\"{}\"", node.Scalar());
  default:
    return "nothing";
  }
}

// A value written as `key:` with nothing after it has its position on the next line; the key's
// own position is where a reader looks.
YAML::Mark valueMark(const YAML::Node& key, const YAML::Node& value) {
  return value.IsNull() ? key.Mark() : value.Mark();
}

std::string keyText(const YAML::Node& key) {
  return key.IsScalar() ? key.Scalar() : describe(key);
}

std::string unknownKeyMessage(std::string_view key, std::span<const std::string_view> known) {
  if (const auto suggestion = closestWord(key, known)) {
    return fmt::format("unknown key; did you mean '{}'?", *suggestion);
  }
  return fmt::format("unknown key; expected one of: {}", fmt::join(known, ", "));
}

std::optional<uint64_t> parseUnsigned(std::string_view text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return value;
}

std::string formatSize(uint64_t bytes) {
  constexpr std::array<std::pair<uint64_t, std::string_view>, 3> kUnits{
      {{uint64_t{1} << 30, "GiB"}, {uint64_t{1} << 20, "MiB"}, {uint64_t{1} << 10, "KiB"}}};
  for (const auto& [scale, unit] : kUnits) {
    if (bytes != 0 && bytes % scale == 0) {
      return fmt::format("{}{}", bytes / scale, unit);
    }
  }
  return fmt::format("{}B", bytes);
}

bool isNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
}

} // namespace

Field::Field(ReadContext& context, YAML::Node node, std::string path, const YAML::Mark& mark)
    : context_(&context), node_(std::move(node)), path_(std::move(path)), mark_(mark) {
  context_->diagnostics.remember(path_, mark_);
}

void Field::error(std::string message) const {
  context_->diagnostics.error(mark_, path_, std::move(message));
}

void Field::warn(std::string message) const {
  context_->diagnostics.warn(mark_, path_, std::move(message));
}

void Field::errorAt(std::string_view key, std::string message) const {
  context_->diagnostics.errorAt(fmt::format("{}.{}", path_, key), std::move(message));
}

void Field::warnAt(std::string_view key, std::string message) const {
  context_->diagnostics.warnAt(fmt::format("{}.{}", path_, key), std::move(message));
}

std::optional<std::vector<std::pair<size_t, Field>>>
Field::entries(std::span<const std::string_view> known) const {
  std::vector<std::pair<size_t, Field>> result;
  if (node_.IsNull()) {
    return result; // `admin:` with nothing under it: the section with its defaults
  }
  if (!node_.IsMap()) {
    error(fmt::format("expected a map, got {}", describe(node_)));
    return std::nullopt;
  }
  std::map<std::string, int> first_line;
  for (const auto& entry : node_) {
    const std::string key = keyText(entry.first);
    const std::string path = path_.empty() ? key : path_ + "." + key;
    const auto index = std::find(known.begin(), known.end(), key) - known.begin();
    auto [first, added] = first_line.try_emplace(key, entry.first.Mark().line + 1);
    if (!added) {
      context_->diagnostics.error(
          entry.first.Mark(), path,
          fmt::format("repeated key; it is already set on line {}", first->second));
    } else if (static_cast<size_t>(index) == known.size()) {
      context_->diagnostics.error(entry.first.Mark(), path, unknownKeyMessage(key, known));
    } else {
      result.emplace_back(
          index, Field(*context_, entry.second, path, valueMark(entry.first, entry.second)));
    }
  }
  return result;
}

std::vector<Field> Field::items() const {
  std::vector<Field> result;
  if (node_.IsNull()) {
    return result;
  }
  if (!node_.IsSequence()) {
    error(fmt::format("expected a list, got {}", describe(node_)));
    return result;
  }
  for (size_t i = 0; i < node_.size(); ++i) {
    const YAML::Node item = node_[i];
    result.emplace_back(*context_, item, fmt::format("{}[{}]", path_, i),
                        item.IsNull() ? mark_ : item.Mark());
  }
  return result;
}

std::optional<Field> Field::find(std::string_view key) const {
  if (!node_.IsMap()) {
    return std::nullopt;
  }
  for (const auto& entry : node_) {
    if (entry.first.IsScalar() && entry.first.Scalar() == key) {
      return Field(*context_, entry.second, path_ + "." + std::string(key),
                   valueMark(entry.first, entry.second));
    }
  }
  return std::nullopt;
}

bool Field::has(std::string_view key) const {
  return find(key).has_value();
}

void Field::require(std::string_view key) const {
  if ((node_.IsMap() || node_.IsNull()) && !has(key)) {
    context_->diagnostics.error(mark_, fmt::format("{}.{}", path_, key), "required key is missing");
  }
}

std::optional<std::string> Field::scalar(std::string_view expected) const {
  if (!node_.IsScalar()) {
    error(fmt::format("expected {}, got {}", expected, describe(node_)));
    return std::nullopt;
  }
  return node_.Scalar();
}

std::optional<size_t> Field::choose(std::span<const std::string_view> names) const {
  const std::string expected = fmt::format("one of {}", fmt::join(names, ", "));
  const auto text = scalar(expected);
  if (!text) {
    return std::nullopt;
  }
  const auto it = std::find(names.begin(), names.end(), *text);
  if (it != names.end()) {
    return static_cast<size_t>(it - names.begin());
  }
  const auto suggestion = closestWord(*text, names);
  error(fmt::format("expected {}, got \"{}\"{}", expected, *text,
                    suggestion ? fmt::format("; did you mean '{}'?", *suggestion) : ""));
  return std::nullopt;
}

bool Field::read(std::string& out) const {
  auto text = scalar("a string");
  if (!text) {
    return false;
  }
  if (text->empty()) {
    error("must not be empty");
    return false;
  }
  out = std::move(*text);
  return true;
}

bool Field::read(bool& out) const {
  if (!scalar("true or false")) {
    return false;
  }
  // yaml-cpp's own decoder: true/false, yes/no, on/off, as YAML 1.1 spells booleans.
  if (!YAML::convert<bool>::decode(node_, out)) {
    error(fmt::format("expected true or false, got {}", describe(node_)));
    return false;
  }
  return true;
}

bool Field::read(uint32_t& out, uint32_t min, uint32_t max) const {
  const std::string expected = fmt::format("an integer from {} to {}", min, max);
  const auto text = scalar(expected);
  if (!text) {
    return false;
  }
  const auto value = parseUnsigned(*text);
  if (!value || *value < min || *value > max) {
    error(fmt::format("expected {}, got \"{}\"", expected, *text));
    return false;
  }
  out = static_cast<uint32_t>(*value);
  return true;
}

bool Field::read(Duration& out, Duration min) const {
  const auto text = scalar("a duration such as 250ms, 5s or 1m");
  if (!text) {
    return false;
  }
  const auto value = parseDuration(*text);
  if (!value) {
    error(value.error().message);
    return false;
  }
  if (*value < min) {
    error(min == 1ms ? std::string("must be more than 0")
                     : fmt::format("must be at least {}", formatDuration(min)));
    return false;
  }
  out = *value;
  return true;
}

bool Field::readSize(uint64_t& out, uint64_t min, uint64_t max) const {
  const auto text = scalar("a size such as 512, 16KiB or 1MiB");
  if (!text) {
    return false;
  }
  const auto value = parseSize(*text);
  if (!value) {
    error(value.error().message);
    return false;
  }
  if (*value < min || *value > max) {
    error(fmt::format("must be from {} to {}", formatSize(min), formatSize(max)));
    return false;
  }
  out = *value;
  return true;
}

bool Field::read(std::vector<std::string>& out) const {
  if (!node_.IsSequence() && !node_.IsNull()) {
    error(fmt::format("expected a list of strings, got {}", describe(node_)));
    return false;
  }
  std::vector<std::string> values;
  bool ok = true;
  for (const Field& item : items()) {
    ok = item.read(values.emplace_back()) && ok;
  }
  if (ok) {
    out = std::move(values);
  }
  return ok;
}

bool Field::read(std::map<std::string, std::string>& out) const {
  if (!node_.IsMap() && !node_.IsNull()) {
    error(fmt::format("expected a map of names to strings, got {}", describe(node_)));
    return false;
  }
  // Any name is allowed here; entries() still reports a repeated one.
  std::vector<std::string> names;
  for (const auto& entry : node_) {
    names.push_back(keyText(entry.first));
  }
  const std::vector<std::string_view> known(names.begin(), names.end());
  std::map<std::string, std::string> values;
  bool ok = true;
  for (const auto& [index, value] :
       entries(known).value_or(std::vector<std::pair<size_t, Field>>{})) {
    const auto text = value.scalar("a string");
    ok = text.has_value() && ok;
    values[names[index]] = text.value_or("");
  }
  if (ok) {
    out = std::move(values);
  }
  return ok;
}

bool Field::read(HostPort& out) const {
  const auto text = scalar("host:port such as 127.0.0.1:8080");
  if (!text) {
    return false;
  }
  auto value = parseHostPort(*text);
  if (!value) {
    error(value.error().message);
    return false;
  }
  out = std::move(*value);
  return true;
}

bool Field::readListen(HostPort& out) const {
  HostPort value;
  if (!read(value)) {
    return false;
  }
  if (auto address = SocketAddress::fromHostPort(value); !address) {
    error(address.error().message + "; listen addresses are bound as written, not resolved");
    return false;
  }
  out = std::move(value);
  return true;
}

bool Field::readPath(std::string& out) const {
  std::string value;
  if (!read(value)) {
    return false;
  }
  const std::filesystem::path path(value);
  const auto& base = context_->base_dir;
  out = (base.empty() || path.is_absolute()) ? value : (base / path).lexically_normal().string();
  return true;
}

bool Field::readAutoOrCount(uint32_t& out, uint32_t max) const {
  const std::string expected = fmt::format("auto or an integer from 1 to {}", max);
  const auto text = scalar(expected);
  if (!text) {
    return false;
  }
  if (*text == "auto") {
    out = 0;
    return true;
  }
  const auto value = parseUnsigned(*text);
  if (!value || *value < 1 || *value > max) {
    error(fmt::format("expected {}, got \"{}\"", expected, *text));
    return false;
  }
  out = static_cast<uint32_t>(*value);
  return true;
}

bool Field::readRange(uint32_t& first, uint32_t& last, uint32_t min, uint32_t max) const {
  const std::string expected =
      fmt::format("a number or a range first-last, within {}-{}", min, max);
  const auto text = scalar(expected);
  if (!text) {
    return false;
  }
  const size_t dash = text->find('-');
  const auto low = parseUnsigned(std::string_view(*text).substr(0, dash));
  const auto high =
      dash == std::string::npos ? low : parseUnsigned(std::string_view(*text).substr(dash + 1));
  auto within = [&](std::optional<uint64_t> n) { return n && *n >= min && *n <= max; };
  if (!within(low) || !within(high)) {
    error(fmt::format("expected {}, got \"{}\"", expected, *text));
    return false;
  }
  if (*low > *high) {
    error(
        fmt::format("the range {} is backwards: the first number must not exceed the last", *text));
    return false;
  }
  first = static_cast<uint32_t>(*low);
  last = static_cast<uint32_t>(*high);
  return true;
}

bool Field::readName(std::string& out) const {
  std::string value;
  if (!read(value)) {
    return false;
  }
  if (!std::all_of(value.begin(), value.end(), isNameChar)) {
    error(fmt::format("\"{}\" is not a valid name: use letters, digits, '_', '-' and '.' "
                      "(names appear in metric labels and admin URLs)",
                      value));
    return false;
  }
  out = std::move(value);
  return true;
}

// Optimal string alignment keeps three rows of the table (the transposition looks two back), each
// as long as the shorter word: memory is O(min(|a|, |b|)) whatever the input.
size_t editDistance(std::string_view a, std::string_view b) {
  if (a.size() < b.size()) {
    std::swap(a, b); // b, the columns, is the shorter
  }
  auto same = [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  };
  // row[j]: distance between the first i characters of a and the first j of b; before and
  // before_that hold rows i - 1 and i - 2.
  std::vector<size_t> before_that(b.size() + 1), before(b.size() + 1), row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    before[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      row[j] = std::min(
          {before[j] + 1, row[j - 1] + 1, before[j - 1] + (same(a[i - 1], b[j - 1]) ? 0 : 1)});
      if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) && same(a[i - 2], b[j - 1])) {
        row[j] = std::min(row[j], before_that[j - 2] + 1); // "listne" is one slip from "listen"
      }
    }
    std::swap(before_that, before);
    std::swap(before, row);
  }
  return before[b.size()];
}

// Close enough means about one slip per three letters: "intervall" finds "interval", while
// "name" does not turn into "path", nor "v3" into "v1". Known words are short, so a long word is
// no typo of one; skipping it keeps a 10 MB value from costing seconds (issue 13).
std::optional<std::string_view> closestWord(std::string_view word,
                                            std::span<const std::string_view> known) {
  if (word.size() > kMaxSuggestedWordLength) {
    return std::nullopt;
  }
  std::optional<std::string_view> best;
  size_t best_distance = 0;
  for (std::string_view candidate : known) {
    const size_t limit = std::min(word.size(), candidate.size()) / 3;
    const size_t length_gap =
        std::max(word.size(), candidate.size()) - std::min(word.size(), candidate.size());
    if (length_gap > limit) {
      continue; // the distance is at least the difference in length
    }
    const size_t distance = editDistance(word, candidate);
    if (distance <= limit && (!best || distance < best_distance)) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

} // namespace corral::config
