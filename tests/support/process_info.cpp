#include "tests/support/process_info.h"

#include <fstream>
#include <sstream>
#include <string>

namespace corral::test {

std::optional<uint64_t> residentBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) { // "VmRSS:	    5344 kB"
      std::istringstream fields(line.substr(6));
      uint64_t kib = 0;
      fields >> kib;
      return kib * 1024;
    }
  }
  return std::nullopt;
}

} // namespace corral::test
