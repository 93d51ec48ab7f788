#include "corral/metrics/process_collector.h"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "metrics/families.h"

namespace corral::metrics {
namespace {

std::string readFile(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The whitespace-separated fields of `text`, as views into it.
std::vector<std::string_view> splitFields(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t position = 0;
  while ((position = text.find_first_not_of(" \n", position)) != std::string_view::npos) {
    const size_t end = std::min(text.find_first_of(" \n", position), text.size());
    fields.push_back(text.substr(position, end - position));
    position = end;
  }
  return fields;
}

bool parseNumber(std::string_view text, uint64_t& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

double openFds() {
  std::error_code error;
  double count = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", error), end; !error && it != end;
       it.increment(error)) {
    ++count;
  }
  return count;
}

double maxFds() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return -1;
  }
  return static_cast<double>(limit.rlim_cur);
}

prometheus::MetricFamily gauge(std::string name, std::string help, double value) {
  auto family = gaugeFamily(std::move(name), std::move(help));
  addSample(family, {}, value);
  return family;
}

} // namespace

std::optional<ProcStat> parseProcStat(std::string_view text) {
  const size_t name_end = text.rfind(')');
  if (name_end == std::string_view::npos) {
    return std::nullopt;
  }
  // Fields after the name start at field 3 (state), so field N is at index N - 3.
  const std::vector<std::string_view> fields = splitFields(text.substr(name_end + 1));
  constexpr size_t kFirst = 3;
  ProcStat stat;
  if (fields.size() < 24 - kFirst + 1 ||
      !parseNumber(fields[14 - kFirst], stat.user_ticks) ||
      !parseNumber(fields[15 - kFirst], stat.system_ticks) ||
      !parseNumber(fields[22 - kFirst], stat.start_ticks) ||
      !parseNumber(fields[23 - kFirst], stat.virtual_bytes) ||
      !parseNumber(fields[24 - kFirst], stat.resident_pages)) {
    return std::nullopt;
  }
  return stat;
}

std::optional<uint64_t> parseBootTime(std::string_view text) {
  std::istringstream lines{std::string(text)};
  std::string key;
  uint64_t value = 0;
  while (lines >> key) {
    if (key == "btime" && lines >> value) {
      return value;
    }
    lines.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return std::nullopt;
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  std::vector<prometheus::MetricFamily> families;
  families.push_back(gauge("process_open_fds", "Number of open file descriptors.", openFds()));
  families.push_back(gauge("process_max_fds", "Maximum number of open file descriptors.", maxFds()));
  const std::optional<ProcStat> stat = parseProcStat(readFile("/proc/self/stat"));
  const std::optional<uint64_t> boot_time = parseBootTime(readFile("/proc/stat"));
  if (!stat) {
    return families;
  }
  const auto ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  auto cpu = counterFamily("process_cpu_seconds_total", "Total user and system CPU time spent in "
                                                        "seconds.");
  addSample(cpu, {}, static_cast<double>(stat->user_ticks + stat->system_ticks) / ticks);
  families.push_back(std::move(cpu));
  families.push_back(gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
                           static_cast<double>(stat->resident_pages * sysconf(_SC_PAGESIZE))));
  families.push_back(gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                           static_cast<double>(stat->virtual_bytes)));
  if (boot_time) {
    families.push_back(gauge("process_start_time_seconds",
                             "Start time of the process since unix epoch in seconds.",
                             static_cast<double>(*boot_time) +
                                 static_cast<double>(stat->start_ticks) / ticks));
  }
  return families;
}

} // namespace corral::metrics
