// The rolling restart of ProcessSupervisor (DESIGN.md: "start the replacement, wait until
// healthy, drain the old, stop it"), one slot at a time, so that at most one slot runs two
// processes and the port range needs a single spare port.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>

#include <fmt/format.h>

#include "cluster/process_supervisor.h"
#include "corral/core/log.h"
#include "corral/core/units.h"

namespace corral::cluster {
namespace {

// Another program may hold a port of the range; a replacement started there would never get
// healthy. SO_REUSEADDR so that connections of an old instance in TIME_WAIT do not count.
bool portLooksFree(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return true; // cannot tell; the health check will
  }
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in address{.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = {INADDR_ANY}};
  const bool free = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return free;
}

} // namespace

Result<void> ProcessSupervisor::restart(std::function<void(Result<void>)> done) {
  if (!started_ || stopping_) {
    return fail(ErrorCode::Unavailable, fmt::format("{}: instances are not running", backend()));
  }
  if (roll_) {
    return fail(ErrorCode::Unavailable,
                fmt::format("{}: a rolling restart is already in progress", backend()));
  }
  if (!callbacks_.wait_healthy) {
    return fail(
        ErrorCode::Unavailable,
        fmt::format("{}: a rolling restart needs a readiness check (wait_healthy)", backend()));
  }
  roll_ = std::make_unique<Roll>();
  roll_->done = std::move(done);
  log::cluster()->info("{}: rolling restart of {} instances", backend(), slots_.size());
  rollFrom(0);
  return {};
}

// A slot in backoff or still starting is skipped: its next start runs the command anew anyway.
void ProcessSupervisor::rollFrom(uint32_t first) {
  for (uint32_t index = first; index < slots_.size(); ++index) {
    Slot& slot = slots_[index];
    if (slot.state == InstanceState::Running) {
      startReplacement(slot);
      return;
    }
    log::cluster()->info("{}: skipped by the rolling restart ({})", slot.name,
                         toString(slot.state));
  }
  finishRoll({});
}

void ProcessSupervisor::startReplacement(Slot& slot) {
  roll_->slot = slot.index;
  roll_->step = ++roll_steps_;
  roll_->old_pid = 0;
  const auto port = freePort();
  if (!port) {
    finishRoll(fail(ErrorCode::Unavailable,
                    fmt::format("{}: no free port in {}-{} for a replacement", slot.name,
                                options_.spawn.port_first, options_.spawn.port_last)));
    return;
  }
  auto child = launch(slot.index, *port);
  if (!child) {
    finishRoll(std::unexpected(child.error()));
    return;
  }
  roll_->replacement = std::move(*child);
  roll_->port = *port;
  log::cluster()->info("{}: replacement [{}] starting on port {}", slot.name,
                       roll_->replacement->pid(), *port);
  roll_->deadline = std::make_unique<Timer>(base_, [this] {
    const std::string reason =
        fmt::format("was not healthy within {}", formatDuration(options_.healthy_deadline));
    giveUpReplacement(reason);
    finishRoll(fail(ErrorCode::Unavailable,
                    fmt::format("{}: replacement {}", slots_[roll_->slot].name, reason)));
  });
  roll_->deadline->start(options_.healthy_deadline);
  waitUntilHealthy(addressOf(*port), roll_->step);
}

void ProcessSupervisor::waitUntilHealthy(const SocketAddress& address, uint64_t step) {
  std::weak_ptr<ProcessSupervisor*> alive = alive_;
  auto report = [alive, step](bool healthy) {
    if (auto self = alive.lock()) {
      (*self)->onReplacementHealth(step, healthy);
    }
  };
  callbacks_.wait_healthy(address, std::move(report)); // restart() checked that there is one
}

void ProcessSupervisor::onReplacementHealth(uint64_t step, bool healthy) {
  if (!roll_ || roll_->step != step || !roll_->replacement) {
    return; // given up already, or a step that has moved on
  }
  if (!healthy) {
    const std::string name = slots_[roll_->slot].name;
    giveUpReplacement("failed its health check");
    finishRoll(fail(ErrorCode::Unavailable,
                    fmt::format("{}: replacement failed its health check", name)));
    return;
  }
  switchToReplacement();
}

// From here on new connections for the slot reach the replacement; the old process only keeps
// the ones it has, and the roll moves to the next slot once it has been reaped.
void ProcessSupervisor::switchToReplacement() {
  Slot& slot = slots_[roll_->slot];
  roll_->deadline.reset();
  slot.respawn->cancel(); // the old process may have crashed meanwhile
  std::unique_ptr<ChildProcess> old = std::move(slot.process);
  const uint16_t old_port = slot.port;
  slot.process = std::move(roll_->replacement);
  slot.port = roll_->port;
  slot.state = InstanceState::Running;
  slot.started_at = std::chrono::system_clock::now();
  slot.last_error.clear();
  log::cluster()->info("{}: switched to [{}] on port {}", slot.name, slot.process->pid(),
                       slot.port);
  if (callbacks_.on_instance_changed) {
    callbacks_.on_instance_changed(slot.index, addressOf(slot.port));
  }
  if (!old) {
    rollFrom(slot.index + 1);
    return;
  }
  roll_->old_pid = old->pid();
  retire(slot.index, old_port, std::move(old));
}

void ProcessSupervisor::retire(uint32_t slot, uint16_t port, std::unique_ptr<ChildProcess> process) {
  const pid_t pid = process->pid();
  Retired& retired = retired_.emplace_back(Retired{.slot = slot,
                                                   .name = instanceName(options_.backend, slot),
                                                   .port = port, .process = std::move(process)});
  // drain_old may never answer (or the old process may hold its clients forever).
  retired.drain_guard = std::make_unique<Timer>(base_, [this, pid] {
    log::cluster()->warn("[{}] still had connections after the stop timeout; stopping it", pid);
    onDrained(pid);
  });
  retired.drain_guard->start(options_.spawn.stop_timeout);
  if (!callbacks_.drain_old) {
    onDrained(pid);
    return;
  }
  std::weak_ptr<ProcessSupervisor*> alive = alive_;
  callbacks_.drain_old(slot, addressOf(port), [alive, pid] {
    if (auto self = alive.lock()) {
      (*self)->onDrained(pid);
    }
  });
}

void ProcessSupervisor::onDrained(pid_t pid) {
  auto it = std::find_if(retired_.begin(), retired_.end(), [pid](const Retired& r) {
    return r.process->pid() == pid && r.drain_guard != nullptr;
  });
  if (it == retired_.end()) {
    return; // drained twice (guard and callback), or already gone
  }
  it->drain_guard.reset();
  log::cluster()->info("{} [{}] drained; stopping it", it->name, pid);
  it->process->terminate(options_.spawn.stop_timeout);
}

void ProcessSupervisor::onReplacementExit(const ExitStatus& exit) {
  Slot& slot = slots_[roll_->slot];
  log::cluster()->warn("{}: replacement [{}] {} before it was healthy; keeping [{}]", slot.name,
                       roll_->replacement->pid(), exit.describe(),
                       slot.process ? slot.process->pid() : 0);
  roll_->replacement.reset();
  roll_->deadline.reset();
  finishRoll(fail(ErrorCode::Unavailable,
                  fmt::format("{}: replacement {} before it was healthy", slot.name,
                              exit.describe())));
}

void ProcessSupervisor::giveUpReplacement(const std::string& reason) {
  if (!roll_ || !roll_->replacement) {
    return;
  }
  const Slot& slot = slots_[roll_->slot];
  log::cluster()->warn("{}: replacement [{}] on port {} {}; keeping [{}] and stopping the rolling "
                       "restart",
                       slot.name, roll_->replacement->pid(), roll_->port, reason,
                       slot.process ? slot.process->pid() : 0);
  roll_->deadline.reset();
  Retired& retired = retired_.emplace_back(Retired{.slot = slot.index, .name = slot.name,
                                                   .port = roll_->port,
                                                   .process = std::move(roll_->replacement)});
  retired.process->terminate(options_.spawn.stop_timeout);
}

// `done` goes last. It must not destroy the supervisor (stop() may be on the stack).
void ProcessSupervisor::finishRoll(Result<void> result) {
  auto done = std::move(roll_->done);
  roll_.reset();
  if (result) {
    log::cluster()->info("{}: rolling restart done", backend());
  } else {
    log::cluster()->warn("rolling restart stopped: {}", result.error().message);
  }
  if (done) {
    done(std::move(result));
  }
}

std::optional<uint16_t> ProcessSupervisor::freePort() const {
  std::set<uint16_t> used;
  for (const Slot& slot : slots_) {
    used.insert(slot.port);
  }
  for (const Retired& retired : retired_) {
    used.insert(retired.port);
  }
  for (uint32_t port = options_.spawn.port_first; port <= options_.spawn.port_last; ++port) {
    if (!used.contains(static_cast<uint16_t>(port)) && portLooksFree(static_cast<uint16_t>(port))) {
      return static_cast<uint16_t>(port);
    }
  }
  return std::nullopt;
}

} // namespace corral::cluster
