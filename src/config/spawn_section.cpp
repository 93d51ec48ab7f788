#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "config/sections.h"

namespace corral::config {
namespace {

constexpr uint32_t kMaxInstances = 1024;
constexpr uint32_t kMaxPort = 65535;
// The supervisor sets these for each instance (DESIGN.md, spawn.command).
constexpr std::array<std::string_view, 3> kInstanceVariables{"PORT", "CORRAL_INSTANCE",
                                                             "CORRAL_INSTANCES"};

void readCommand(const Field& field, std::vector<std::string>& out) {
  if (field.read(out) && out.empty()) {
    field.error("the command needs at least a program, as in [node, app.js]");
  }
}

void readPorts(const Field& field, SpawnConfig& spawn) {
  uint32_t first = 0;
  uint32_t last = 0;
  if (field.readRange(first, last, 1, kMaxPort)) {
    spawn.port_first = static_cast<uint16_t>(first);
    spawn.port_last = static_cast<uint16_t>(last);
  }
}

void readEnvironment(const Field& field, std::map<std::string, std::string>& out) {
  if (!field.read(out)) {
    return;
  }
  for (const auto& [name, value] : out) {
    if (name.find('=') != std::string::npos) {
      field.errorAt(name, "an environment variable name cannot hold '='");
    }
    if (std::find(kInstanceVariables.begin(), kInstanceVariables.end(), name) !=
        kInstanceVariables.end()) {
      field.warnAt(name,
                   fmt::format("corral sets {} for each instance; this value is replaced", name));
    }
  }
}

constexpr KeyRule<SpawnConfig> kSpawnKeys[] = {
    {"command", [](const Field& f, SpawnConfig& c) { readCommand(f, c.command); }},
    {"instances",
     [](const Field& f, SpawnConfig& c) { f.readAutoOrCount(c.instances, kMaxInstances); }},
    {"ports", [](const Field& f, SpawnConfig& c) { readPorts(f, c); }},
    {"cwd", [](const Field& f, SpawnConfig& c) { f.readPath(c.cwd); }},
    {"env", [](const Field& f, SpawnConfig& c) { readEnvironment(f, c.env); }},
    {"stop_timeout", [](const Field& f, SpawnConfig& c) { f.read(c.stop_timeout, 0ms); }},
};

// A rolling restart starts each replacement before it stops the old instance, so the range
// needs one port more than there are instances.
void checkPortsFit(const Field& section, const SpawnConfig& spawn) {
  if (spawn.port_first == 0) {
    return; // missing or unreadable: already reported
  }
  const uint32_t available = uint32_t{spawn.port_last} - spawn.port_first + 1;
  if (available < spawn.instances + 1) {
    section.errorAt("ports",
                    fmt::format("{}-{} holds {} ports; {} instances{} need {} (one spare for "
                                "rolling restarts)",
                                spawn.port_first, spawn.port_last, available, spawn.instances,
                                spawn.instances_auto ? " (auto: one per core)" : "",
                                spawn.instances + 1));
  }
}

// `instances: auto`, or no `instances` key: one per core. Resolved here, once, so the supervisor,
// the snapshot and the metrics all count the same instances.
void resolveAutoInstances(SpawnConfig& spawn) {
  if (spawn.instances == 0) {
    spawn.instances = std::max(1u, std::thread::hardware_concurrency()); // 0 when it cannot tell
    spawn.instances_auto = true;
  }
}

} // namespace

void readSpawn(const Field& section, std::optional<SpawnConfig>& out) {
  SpawnConfig spawn;
  if (!readSection(section, spawn, kSpawnKeys)) {
    return;
  }
  section.require("command");
  section.require("ports");
  resolveAutoInstances(spawn);
  checkPortsFit(section, spawn);
  out = std::move(spawn);
}

} // namespace corral::config
