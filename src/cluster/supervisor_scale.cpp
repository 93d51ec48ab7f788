// A changed spawn section applied to running instances (issue 14: a reload applies every setting;
// `corral ctl scale`). Scaling keeps every slot that stays untouched: new slots start beside
// them, surplus slots leave the way a rolled-out process does (the control plane takes them out
// of the snapshot first, drain_old waits for their sessions, then SIGTERM). A changed program
// (command, env, cwd, ports) reuses the rolling restart, so it is health-gated slot by slot.

#include <fmt/format.h>

#include "cluster/process_supervisor.h"
#include "corral/core/log.h"

namespace corral::cluster {

bool ProcessSupervisor::sameProgram(const config::SpawnConfig& a, const config::SpawnConfig& b) {
  return a.command == b.command && a.cwd == b.cwd && a.env == b.env &&
         a.port_first == b.port_first && a.port_last == b.port_last;
}

Result<void> ProcessSupervisor::reconfigure(const config::SpawnConfig& spawn,
                                            std::function<void(Result<void>)> done) {
  if (auto checked = checkSpawn(options_.backend, spawn); !checked) {
    return checked;
  }
  if (stopping_) {
    return fail(ErrorCode::Unavailable, fmt::format("{}: instances are stopping", backend()));
  }
  if (roll_) {
    return fail(ErrorCode::Unavailable,
                fmt::format("{}: a rolling restart is in progress; try again once it is done",
                            backend()));
  }
  const bool roll = !sameProgram(options_.spawn, spawn);
  options_.spawn = spawn;
  if (!started_) {
    while (slots_.size() < spawn.instances) {
      addSlot(static_cast<uint16_t>(spawn.port_first + slots_.size()));
    }
    if (slots_.size() > spawn.instances) {
      slots_.erase(slots_.begin() + spawn.instances, slots_.end());
    }
    done({});
    return {};
  }
  scaleDown(spawn.instances);
  scaleUp(spawn.instances);
  if (!roll) {
    done({});
    return {};
  }
  log::cluster()->info("{}: the command, env, cwd or ports changed; rolling the instances",
                       backend());
  return restart(std::move(done));
}

// Each new slot takes the lowest free port of the range (the spare may be any of them).
void ProcessSupervisor::scaleUp(uint32_t instances) {
  if (slots_.size() >= instances) {
    return;
  }
  log::cluster()->info("{}: scaling up from {} to {} instances", backend(), slots_.size(),
                       instances);
  while (slots_.size() < instances) {
    const uint16_t port = freePort().value_or(options_.spawn.port_first); // checkSpawn: room
    Slot& slot = addSlot(port);
    startSlot(slot);
    if (callbacks_.on_instance_changed) {
      callbacks_.on_instance_changed(slot.index, addressOf(slot.port));
    }
  }
}

// The highest slots go. A slot without a process (in backoff) just ends; a running one is
// retired: drain_old, then SIGTERM, SIGKILL after stop_timeout.
void ProcessSupervisor::scaleDown(uint32_t instances) {
  if (slots_.size() <= instances) {
    return;
  }
  log::cluster()->info("{}: scaling down from {} to {} instances", backend(), slots_.size(),
                       instances);
  while (slots_.size() > instances) {
    Slot& slot = slots_.back();
    slot.respawn->cancel();
    for (auto it = follower_slots_.begin(); it != follower_slots_.end();) {
      it = it->second == slot.index ? follower_slots_.erase(it) : std::next(it);
    }
    std::unique_ptr<ChildProcess> process = std::move(slot.process);
    const uint32_t index = slot.index;
    const uint16_t port = slot.port;
    slots_.pop_back();
    if (process && !process->terminating()) {
      retire(index, port, std::move(process));
    } else if (process) {
      retired_.push_back(Retired{.slot = index, .name = instanceName(options_.backend, index),
                                 .port = port, .process = std::move(process)});
    }
  }
}

} // namespace corral::cluster
