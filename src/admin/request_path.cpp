#include "request_path.h"

#include <cstdlib>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "corral/admin/control.h"

namespace corral::admin {
namespace {

std::string decode(std::string_view text) {
  const std::string copy(text); // evhttp_uridecode wants a NUL-terminated string
  size_t size = 0;
  char* decoded = evhttp_uridecode(copy.c_str(), /*decode_plus=*/0, &size);
  if (decoded == nullptr) {
    std::abort(); // it fails only when malloc does
  }
  std::string result(decoded, size);
  std::free(decoded);
  return result;
}

} // namespace

std::vector<std::string> splitPath(std::string_view path) {
  if (path.starts_with('/')) {
    path.remove_prefix(1);
  }
  std::vector<std::string> segments;
  while (true) {
    const auto slash = path.find('/');
    segments.push_back(decode(path.substr(0, slash)));
    if (slash == std::string_view::npos) {
      return segments;
    }
    path.remove_prefix(slash + 1);
  }
}

Result<std::map<std::string, std::string>> parseQuery(std::string_view query) {
  std::map<std::string, std::string> values;
  if (query.empty()) {
    return values;
  }
  evkeyvalq pairs{};
  if (evhttp_parse_query_str(std::string(query).c_str(), &pairs) != 0) {
    evhttp_clear_headers(&pairs);
    return fail(ErrorCode::BadInput, "malformed query string");
  }
  for (const evkeyval* pair = pairs.tqh_first; pair != nullptr; pair = pair->next.tqe_next) {
    values.emplace(pair->key, pair->value);
  }
  evhttp_clear_headers(&pairs);
  return values;
}

Result<uint32_t> parseCountBody(std::string_view text, std::string_view key, uint32_t min,
                                uint32_t max) {
  const auto body = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  const auto bad = fail(ErrorCode::BadInput,
                        fmt::format(R"(the body must be JSON such as {{"{}": N}} with N from {} )"
                                    "to {}",
                                    key, min, max));
  const std::string name(key);
  if (!body.is_object() || !body.contains(name) || !body[name].is_number_integer()) {
    return bad;
  }
  const auto value = body[name].get<int64_t>();
  if (value < int64_t{min} || value > int64_t{max}) {
    return bad;
  }
  return static_cast<uint32_t>(value);
}

Result<uint32_t> parseWeightBody(std::string_view text) {
  return parseCountBody(text, "weight", kMinWeight, kMaxWeight);
}

} // namespace corral::admin
