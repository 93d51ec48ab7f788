#pragma once
// What /proc says about a process.

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace corral::test {

/// Resident set size (VmRSS in /proc/PID/status) in bytes; nullopt if the process is gone.
std::optional<uint64_t> residentBytes(pid_t pid);

} // namespace corral::test
