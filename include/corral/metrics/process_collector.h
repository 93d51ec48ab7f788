#pragma once
// The standard process metrics that every Prometheus client exports (CPU seconds, resident
// memory, file descriptors, start time), read from /proc/self at scrape time. Linux only.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace corral::metrics {

/// The fields of /proc/PID/stat that the process metrics use, in their kernel units.
struct ProcStat {
  uint64_t user_ticks = 0;       // utime, field 14
  uint64_t system_ticks = 0;     // stime, field 15
  uint64_t start_ticks = 0;      // starttime since boot, field 22
  uint64_t virtual_bytes = 0;    // vsize, field 23
  uint64_t resident_pages = 0;   // rss, field 24
};

/// Parses the text of /proc/PID/stat. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from the last ')'.
std::optional<ProcStat> parseProcStat(std::string_view text);

/// The `btime` line of /proc/stat: the boot time in seconds since the epoch.
std::optional<uint64_t> parseBootTime(std::string_view text);

/// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
/// process_open_fds, process_max_fds and process_start_time_seconds.
class ProcessCollector : public prometheus::Collectable {
public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

} // namespace corral::metrics
