#include "corral/core/address.h"

#include "config/sections.h"

namespace corral::config {
namespace {

constexpr uint32_t kMaxWorkers = 1024;
// One 20-byte sample per server per second: an hour of 1,000 servers is about 70 MiB, the most
// we allow.
constexpr Duration kMaxHistory = std::chrono::hours(1);

void readHistory(const Field& f, AdminConfig& c) {
  Duration value{};
  if (!f.read(value, std::chrono::seconds(10))) {
    return;
  }
  if (value > kMaxHistory) {
    f.error("must be at most 1h");
    return;
  }
  c.history = value;
}

constexpr KeyRule<AdminConfig> kAdminKeys[] = {
    {"listen", [](const Field& f, AdminConfig& c) { f.readListen(c.listen); }},
    {"token_file", [](const Field& f, AdminConfig& c) { f.readPath(c.token_file); }},
    {"history", readHistory},
};

constexpr KeyRule<MetricsConfig> kMetricsKeys[] = {
    {"listen", [](const Field& f, MetricsConfig& c) { f.readListen(c.listen); }},
};

// The admin API can drain, disable and restart servers: reachable from other hosts, it must ask
// for a token.
void checkAdminExposure(const Field& section, const AdminConfig& admin) {
  const auto address = SocketAddress::fromHostPort(admin.listen);
  if (!address || address->isLoopback() || !admin.token_file.empty()) {
    return;
  }
  section.errorAt("listen",
                  "a non-loopback admin listen address needs token_file: anyone who reaches it "
                  "could drain, disable or restart servers");
}

void readAdmin(const Field& section, std::optional<AdminConfig>& out) {
  AdminConfig admin;
  if (readSection(section, admin, kAdminKeys)) {
    checkAdminExposure(section, admin);
    out = std::move(admin);
  }
}

void readMetrics(const Field& section, std::optional<MetricsConfig>& out) {
  MetricsConfig metrics;
  if (readSection(section, metrics, kMetricsKeys)) {
    out = std::move(metrics);
  }
}

// stdout and off are words; anything else names a file.
void readAccessLog(const Field& field, std::string& out) {
  std::string value;
  if (!field.read(value)) {
    return;
  }
  if (value == "stdout" || value == "off") {
    out = value;
  } else {
    field.readPath(out);
  }
}

// Every list item gets a struct, even a broken one, so that frontends[i] in a message is the i-th
// item of the file.
template <class T>
void readList(const Field& list, std::vector<T>& out, void (*read)(const Field&, T&)) {
  for (const Field& item : list.items()) {
    read(item, out.emplace_back());
  }
}

constexpr KeyRule<Config> kConfigKeys[] = {
    {"workers", [](const Field& f, Config& c) { f.readAutoOrCount(c.workers, kMaxWorkers); }},
    {"admin", [](const Field& f, Config& c) { readAdmin(f, c.admin); }},
    {"metrics", [](const Field& f, Config& c) { readMetrics(f, c.metrics); }},
    {"access_log", [](const Field& f, Config& c) { readAccessLog(f, c.access_log); }},
    {"frontends", [](const Field& f, Config& c) { readList(f, c.frontends, readFrontend); }},
    {"backends", [](const Field& f, Config& c) { readList(f, c.backends, readBackend); }},
};

} // namespace

void readConfig(const Field& root, Config& config) {
  readSection(root, config, kConfigKeys);
}

} // namespace corral::config
