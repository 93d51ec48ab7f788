#pragma once
// Wire bytes written as hex in the tests ("16030100...").

#include <string>
#include <string_view>

namespace corral::protocol {

inline std::string fromHex(std::string_view hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return bytes;
}

} // namespace corral::protocol
