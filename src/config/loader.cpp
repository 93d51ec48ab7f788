#include "corral/config/loader.h"

#include <cerrno>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "config/diagnostics.h"
#include "config/sections.h"
#include "config/validate.h"
#include "config/yaml_reader.h"

namespace corral::config {
namespace {

using LoadResult = std::expected<Loaded, std::vector<Diagnostic>>;

// The start of each document of a stream, without building nodes.
class DocumentStarts : public YAML::EventHandler {
public:
  std::vector<YAML::Mark> marks;

  void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// A file holds one document: yaml-cpp's Load would read the first and drop the rest without a
// word, so a second document is an error where it starts. Its LoadAll is not used: yaml-cpp 0.7
// (Debian 12) returns an empty document without moving on at a token it cannot place (",: a"),
// so LoadAll never ends and fills memory (fuzz corpus config/comma_colon_loops_yaml_cpp). A
// document that starts where the previous one started is that token.
bool holdsOneDocument(const std::string& text, Diagnostics& diagnostics) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentStarts starts;
  while (starts.marks.size() < 3 && parser.HandleNextDocument(starts)) {
    const size_t count = starts.marks.size();
    if (count >= 2 && starts.marks[count - 1].pos == starts.marks[count - 2].pos) {
      diagnostics.error(starts.marks[count - 1], "", "unexpected character: not YAML");
      return false;
    }
  }
  if (starts.marks.size() > 1) {
    diagnostics.error(starts.marks[1], "",
                      "a second YAML document; corral reads one document per file");
    return false;
  }
  return true;
}

// yaml-cpp reports malformed YAML by throwing; this is the one place that calls its parser.
std::optional<YAML::Node> parseYaml(std::string_view yaml, Diagnostics& diagnostics) {
  try {
    const std::string text(yaml);
    if (!holdsOneDocument(text, diagnostics)) {
      return std::nullopt;
    }
    return YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own message for this is "bad file".
    diagnostics.error(e.mark, "", fmt::format("nested more than {} levels deep", e.depth() - 1));
    return std::nullopt;
  } catch (const YAML::Exception& e) {
    diagnostics.error(e.mark, "", e.msg);
    return std::nullopt;
  }
}

// Builds and checks the Config. The readers never ask yaml-cpp to convert (they read scalars as
// text), but yaml-cpp may still throw on a node it considers invalid; no exception leaves here.
void readAndValidate(const YAML::Node& root, ReadContext& context, Config& config) {
  try {
    // An empty file has no position; its problems are reported at its first line.
    const YAML::Mark mark = root.Mark().is_null() ? YAML::Mark() : root.Mark();
    readConfig(Field(context, root, "", mark), config);
  } catch (const YAML::Exception& e) {
    context.diagnostics.error(e.mark, "", e.msg);
    return;
  }
  validate(config, context.diagnostics);
}

LoadResult load(std::string_view yaml, const std::string& file,
                const std::filesystem::path& base_dir) {
  Diagnostics diagnostics(file);
  const auto root = parseYaml(yaml, diagnostics);
  if (!root) {
    return std::unexpected(diagnostics.take());
  }
  ReadContext context{.diagnostics = diagnostics, .base_dir = base_dir};
  Loaded loaded;
  loaded.config.source = file;
  readAndValidate(*root, context, loaded.config);
  if (diagnostics.hasErrors()) {
    return std::unexpected(diagnostics.take());
  }
  loaded.warnings = diagnostics.take();
  return loaded;
}

std::optional<std::string> readWholeFile(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) {
    text << in.rdbuf();
  }
  if (!in || in.bad()) {
    error = std::error_code(errno, std::generic_category()).message();
    return std::nullopt;
  }
  return std::move(text).str();
}

} // namespace

std::string Diagnostic::toString() const {
  std::string text = file;
  if (line > 0) {
    text += fmt::format(":{}:{}", line, column);
  }
  text += warning ? ": warning: " : ": ";
  if (!key.empty()) {
    text += key + ": ";
  }
  return text + message;
}

LoadResult loadFile(const std::string& path) {
  std::string error;
  const auto text = readWholeFile(path, error);
  if (!text) {
    return std::unexpected(std::vector<Diagnostic>{
        {.file = path, .message = fmt::format("cannot read the configuration: {}", error)}});
  }
  // Relative paths in the file mean "next to this file", wherever corral is started from.
  std::error_code ignored;
  const auto folder = std::filesystem::absolute(std::filesystem::path(path), ignored).parent_path();
  return load(*text, path, folder);
}

LoadResult loadString(std::string_view yaml, const std::string& file) {
  return load(yaml, file, {});
}

} // namespace corral::config
