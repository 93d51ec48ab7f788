#include "cluster/process_supervisor.h"

#include <signal.h>

#include <cassert>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "corral/core/log.h"

namespace corral::cluster {
std::string_view toString(InstanceState state) {
  switch (state) {
  case InstanceState::Starting: return "starting";
  case InstanceState::Running: return "running";
  case InstanceState::Backoff: return "backoff";
  case InstanceState::Stopping: return "stopping";
  case InstanceState::Stopped: return "stopped";
  }
  return "unknown";
}

std::string ExitStatus::describe() const {
  if (exec_error != 0) {
    return fmt::format("could not start: {}", errorText(exec_error));
  }
  if (signal != 0) {
    const char* name = sigabbrev_np(signal);
    return fmt::format("killed by signal {} ({})", signal, name != nullptr ? name : "?");
  }
  return fmt::format("exited with status {}", code);
}

std::string instanceName(std::string_view backend, uint32_t slot) {
  return fmt::format("{}#{}", backend, slot);
}

Result<void> checkSpawn(std::string_view backend, const config::SpawnConfig& spawn) {
  if (spawn.command.empty() || spawn.command.front().empty()) {
    return fail(ErrorCode::BadConfig, fmt::format("{}: spawn.command is empty", backend));
  }
  if (spawn.instances == 0) { // the loader resolves `auto` to a count
    return fail(ErrorCode::BadConfig, fmt::format("{}: spawn.instances is 0", backend));
  }
  const uint32_t needed = spawn.instances + 1; // one spare for rolling restarts
  if (spawn.port_first == 0 || spawn.port_last < spawn.port_first ||
      uint32_t{spawn.port_last} - spawn.port_first + 1 < needed) {
    return fail(ErrorCode::BadConfig,
                fmt::format("{}: spawn.ports {}-{} cannot hold {} instances and a spare port",
                            backend, spawn.port_first, spawn.port_last, needed - 1));
  }
  return {};
}

Result<std::unique_ptr<Supervisor>> makeSupervisor(event_base* base, SupervisorOptions options,
                                                   SupervisorCallbacks callbacks) {
  if (auto checked = checkSpawn(options.backend, options.spawn); !checked) {
    return std::unexpected(checked.error());
  }
  if (!SocketAddress::fromHostPort(HostPort{.host = options.host, .port = 0})) {
    return fail(ErrorCode::BadConfig,
                fmt::format("{}: instances are reached at a numeric address, got \"{}\"",
                            options.backend, options.host));
  }
  return std::make_unique<ProcessSupervisor>(base, std::move(options), std::move(callbacks));
}

ProcessSupervisor::ProcessSupervisor(event_base* base, SupervisorOptions options,
                                     SupervisorCallbacks callbacks)
    : base_(base), options_(std::move(options)), callbacks_(std::move(callbacks)),
      reaper_(ChildReaper::forBase(base)) {
  const uint32_t count = options_.spawn.instances;
  slots_.reserve(count);
  for (uint32_t index = 0; index < count; ++index) {
    addSlot(static_cast<uint16_t>(options_.spawn.port_first + index));
  }
}

ProcessSupervisor::Slot& ProcessSupervisor::addSlot(uint16_t port) {
  const auto index = static_cast<uint32_t>(slots_.size());
  Slot& slot = slots_.emplace_back(Slot{
      .index = index,
      .name = instanceName(options_.backend, index),
      .port = port,
      .backoff = RestartBackoff(options_.backoff_initial, options_.backoff_max,
                                options_.stable_after),
      .output = OutputRing(options_.output_lines)});
  slot.respawn = std::make_unique<Timer>(base_, [this, index] { respawn(slots_[index]); });
  return slot;
}

// Signal every group first, so the children die in parallel; each ChildProcess destructor then
// only reaps its own.
ProcessSupervisor::~ProcessSupervisor() {
  auto killIfRunning = [](const std::unique_ptr<ChildProcess>& process) {
    if (process && !process->exited()) {
      killGroup(process->pid(), SIGKILL);
    }
  };
  for (const Slot& slot : slots_) {
    killIfRunning(slot.process);
  }
  for (const Retired& retired : retired_) {
    killIfRunning(retired.process);
  }
  if (roll_) {
    killIfRunning(roll_->replacement);
  }
}

void ProcessSupervisor::start() {
  assert(!started_ && "Supervisor::start() is called once");
  started_ = true;
  log::cluster()->info("{}: starting {} instances of `{}` on ports {}-{}", options_.backend,
                       slots_.size(), describeCommand(), options_.spawn.port_first,
                       options_.spawn.port_last);
  for (Slot& slot : slots_) {
    startSlot(slot);
    if (callbacks_.on_instance_changed) {
      callbacks_.on_instance_changed(slot.index, addressOf(slot.port));
    }
  }
}

Result<std::unique_ptr<ChildProcess>> ProcessSupervisor::launch(uint32_t slot, uint16_t port) {
  SpawnRequest request{.stop_timeout = options_.spawn.stop_timeout,
                       .name = slots_[slot].name,
                       .command = options_.spawn.command,
                       .cwd = options_.spawn.cwd,
                       .env = options_.spawn.env,
                       .max_line_length = options_.max_line_length};
  request.env["PORT"] = std::to_string(port);
  request.env["CORRAL_INSTANCE"] = std::to_string(slot);
  request.env["CORRAL_INSTANCES"] = std::to_string(slots_.size());
  return ChildProcess::spawn(base_, *reaper_, request, eventsFor(slot));
}

ChildEvents ProcessSupervisor::eventsFor(uint32_t slot) {
  return ChildEvents{
      .on_exec = [this, slot](ChildProcess& child) { onExec(child, slot); },
      .on_line = [this, slot](ChildProcess& child, Stream stream,
                              std::string_view line) { onLine(child, slot, stream, line); },
      .on_exit = [this, slot](ChildProcess& child,
                              const ExitStatus& exit) { onExit(child, slot, exit); }};
}

// A fork that fails (out of processes or memory) is treated like an instance that exited at
// once: logged, and retried with backoff.
void ProcessSupervisor::startSlot(Slot& slot) {
  auto child = launch(slot.index, slot.port);
  if (!child) {
    slot.last_error = child.error().message;
    log::cluster()->error("{}", slot.last_error);
    scheduleRespawn(slot, Duration{0}, ExitStatus{.code = -1}, 0);
    return;
  }
  slot.process = std::move(*child);
  slot.state = InstanceState::Starting;
  slot.started_at = std::chrono::system_clock::now();
}

void ProcessSupervisor::onExec(ChildProcess& child, uint32_t index) {
  if (index >= slots_.size() || slots_[index].process.get() != &child) {
    return; // a rolling replacement (it counts once healthy), or its slot was scaled away
  }
  Slot& slot = slots_[index];
  slot.state = InstanceState::Running;
  slot.last_error.clear();
  log::cluster()->info("{} [{}] started on port {}", slot.name, child.pid(), slot.port);
}

void ProcessSupervisor::onLine(ChildProcess& child, uint32_t slot, Stream stream,
                               std::string_view line) {
  log::cluster()->info("{}#{} [{}] {}", options_.backend, slot, child.pid(), line);
  if (slot >= slots_.size()) {
    return; // a process draining after a scale-down: its slot's history is gone
  }
  slots_[slot].output.push(OutputLine{.pid = child.pid(), .stream = stream, .text = std::string(line)});
}

void ProcessSupervisor::onExit(ChildProcess& child, uint32_t index, const ExitStatus& exit) {
  if (index < slots_.size() && slots_[index].process.get() == &child) {
    onSlotExit(slots_[index], exit);
  } else if (roll_ && roll_->replacement.get() == &child) {
    onReplacementExit(exit);
  } else {
    onRetiredExit(child);
  }
}

void ProcessSupervisor::onSlotExit(Slot& slot, const ExitStatus& exit) {
  const pid_t pid = slot.process->pid();
  const bool asked = stopping_ || slot.process->terminating();
  const auto uptime = std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() -
                                                           slot.process->startedAt());
  slot.process.reset();
  slot.last_exit = exit;
  if (asked) {
    slot.state = InstanceState::Stopped;
    log::cluster()->info("{} [{}] stopped: {}", slot.name, pid, exit.describe());
    finishStopIfDone();
    return;
  }
  if (exit.exec_error != 0) {
    slot.last_error = fmt::format("cannot run `{}`{}: {}", describeCommand(),
                                  options_.spawn.cwd.empty() ? "" : " in " + options_.spawn.cwd,
                                  errorText(exit.exec_error));
  }
  scheduleRespawn(slot, uptime, exit, pid);
}

void ProcessSupervisor::scheduleRespawn(Slot& slot, Duration uptime, const ExitStatus& exit,
                                        pid_t pid) {
  const Duration delay = slot.backoff.next(uptime);
  slot.state = InstanceState::Backoff;
  slot.respawn->start(delay);
  if (exit.exec_error != 0) {
    log::cluster()->error("{} [{}]: {} (exit 127); retrying in {} ms", slot.name, pid,
                          slot.last_error, delay.count());
  } else if (pid != 0) {
    log::cluster()->warn("{} [{}] {} after {} ms; respawning in {} ms", slot.name, pid,
                         exit.describe(), uptime.count(), delay.count());
  }
}

void ProcessSupervisor::respawn(Slot& slot) {
  ++slot.restarts;
  if (callbacks_.on_restart) {
    callbacks_.on_restart(slot.index);
  }
  startSlot(slot);
}

void ProcessSupervisor::onRetiredExit(ChildProcess& child) {
  auto it = std::find_if(retired_.begin(), retired_.end(),
                         [&child](const Retired& r) { return r.process.get() == &child; });
  assert(it != retired_.end());
  const pid_t pid = child.pid();
  log::cluster()->info("{} [{}] retired process ended", it->name, pid);
  retired_.erase(it);
  if (roll_ && roll_->old_pid == pid) {
    rollFrom(roll_->slot + 1);
  } else {
    finishStopIfDone();
  }
}

void ProcessSupervisor::stop(std::function<void()> done) {
  stopped_callbacks_.push_back(std::move(done));
  if (stopping_) {
    return;
  }
  stopping_ = true;
  if (roll_) {
    giveUpReplacement("corral is stopping");
    finishRoll(fail(ErrorCode::Unavailable,
                    fmt::format("{}: stopped during the rolling restart", options_.backend)));
  }
  for (Slot& slot : slots_) {
    slot.respawn->cancel();
    if (slot.process) {
      slot.state = InstanceState::Stopping;
      slot.process->terminate(options_.spawn.stop_timeout);
    } else {
      slot.state = InstanceState::Stopped;
    }
  }
  for (Retired& retired : retired_) {
    retired.drain_guard.reset();
    retired.process->terminate(options_.spawn.stop_timeout);
  }
  finishStopIfDone();
}

// The callbacks go last: one of them may destroy this supervisor.
void ProcessSupervisor::finishStopIfDone() {
  if (!stopping_ || !retired_.empty() || roll_) {
    return;
  }
  for (const Slot& slot : slots_) {
    if (slot.process) {
      return;
    }
  }
  log::cluster()->info("{}: every instance has stopped", options_.backend);
  auto callbacks = std::move(stopped_callbacks_);
  stopped_callbacks_.clear();
  for (auto& done : callbacks) {
    done();
  }
}

std::vector<InstanceStatus> ProcessSupervisor::status() const {
  std::vector<InstanceStatus> result;
  result.reserve(slots_.size());
  for (const Slot& slot : slots_) {
    result.push_back(InstanceStatus{.slot = slot.index,
                                    .name = slot.name,
                                    .pid = slot.process ? slot.process->pid() : 0,
                                    .port = slot.port,
                                    .state = slot.state,
                                    .started_at = slot.started_at,
                                    .restarts = slot.restarts,
                                    .last_exit = slot.last_exit,
                                    .last_error = slot.last_error});
  }
  return result;
}

std::vector<OutputLine> ProcessSupervisor::recentOutput(uint32_t slot) const {
  return slot < slots_.size() ? slots_[slot].output.lines() : std::vector<OutputLine>{};
}

FollowerId ProcessSupervisor::followOutput(uint32_t slot,
                                           std::function<void(const OutputLine&)> on_line) {
  assert(slot < slots_.size());
  const FollowerId id = next_follower_++;
  slots_[slot].output.follow(id, std::move(on_line));
  follower_slots_[id] = slot;
  return id;
}

void ProcessSupervisor::unfollowOutput(FollowerId id) {
  if (auto it = follower_slots_.find(id); it != follower_slots_.end()) {
    slots_[it->second].output.unfollow(id);
    follower_slots_.erase(it);
  }
}

SocketAddress ProcessSupervisor::addressOf(uint16_t port) const {
  auto address = SocketAddress::fromHostPort(HostPort{.host = options_.host, .port = port});
  assert(address && "SupervisorOptions::host is a numeric address");
  return *address;
}

std::string ProcessSupervisor::describeCommand() const {
  return fmt::format("{}", fmt::join(options_.spawn.command, " "));
}

} // namespace corral::cluster
