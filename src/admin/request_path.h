#pragma once
// The parts of an admin request that the routes look at, decoded: the target's path and query, and
// the JSON body of POST /weight. Each is fuzzed (tests/fuzz/fuzz_admin_*.cpp).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "corral/core/error.h"

namespace corral::admin {

/// "/api/v1/servers/app/app%230/drain" -> {"api", "v1", "servers", "app", "app#0", "drain"}.
/// Each segment is percent-decoded after splitting, so "%2F" stays inside its name; '+' is a plus
/// in a path (RFC 3986), not a space. Empty segments are kept ("/a//b" has three), so that no
/// route matches them.
std::vector<std::string> splitPath(std::string_view path);

/// "backend=app&client=10.0.0.7" -> {{"backend","app"},{"client","10.0.0.7"}}; values are
/// percent-decoded and '+' is a space (HTML forms). A repeated key keeps its first value.
Result<std::map<std::string, std::string>> parseQuery(std::string_view query);

/// A body such as {"weight": N}: an object whose `key` is an integer in min..max.
Result<uint32_t> parseCountBody(std::string_view body, std::string_view key, uint32_t min,
                                uint32_t max);
/// The body of POST .../weight: {"weight": N} with N an integer in kMinWeight..kMaxWeight.
Result<uint32_t> parseWeightBody(std::string_view body);

} // namespace corral::admin
