// The upgrade handover of ProcessSupervisor (`corral ctl upgrade`): the old corral freezes its
// slots and passes them on; the new one adopts the running processes as if it had started them.
// The keeper (keeper.h) is their parent throughout, so nothing about the processes changes.

#include <fmt/format.h>

#include "cluster/process_supervisor.h"
#include "corral/core/log.h"

namespace corral::cluster {

Result<std::vector<HandoverSlot>> ProcessSupervisor::freeze() {
  if (roll_ || !retired_.empty()) {
    return fail(ErrorCode::Unavailable,
                fmt::format("{}: a rolling restart is in progress; upgrade once it is done",
                            backend()));
  }
  if (stopping_) {
    return fail(ErrorCode::Unavailable, fmt::format("{}: instances are stopping", backend()));
  }
  reaper_->pauseKeeper();
  std::vector<HandoverSlot> slots;
  for (Slot& slot : slots_) {
    slot.respawn->cancel();
    HandoverSlot handed{.slot = slot.index, .port = slot.port, .restarts = slot.restarts,
                        .started_at = slot.started_at};
    if (slot.process && !slot.process->terminating()) {
      handed.pid = slot.process->pid();
      const std::vector<int> pipes = slot.process->pauseOutput();
      handed.out = pipes.size() > 0 ? pipes[0] : -1;
      handed.err = pipes.size() > 1 ? pipes[1] : -1;
    }
    slots.push_back(handed);
  }
  return slots;
}

void ProcessSupervisor::thaw() {
  reaper_->resumeKeeper();
  for (Slot& slot : slots_) {
    if (slot.process) {
      slot.process->resumeOutput();
    } else if (slot.state == InstanceState::Backoff) {
      slot.respawn->start(Duration{0});
    }
  }
}

void ProcessSupervisor::release() {
  for (Slot& slot : slots_) {
    if (slot.process) {
      slot.process->release();
      slot.process.reset();
    }
    slot.respawn->cancel();
    slot.state = InstanceState::Stopped;
  }
  log::cluster()->info("{}: instances handed over to the new corral", backend());
}

void ProcessSupervisor::adopt(const std::vector<HandoverSlot>& slots) {
  assert(!started_ && "adopt() replaces start()");
  started_ = true;
  for (const HandoverSlot& handed : slots) {
    if (handed.slot >= slots_.size()) {
      // The new configuration runs fewer instances: this one goes, as a retired process would.
      if (handed.pid > 0) {
        auto child = ChildProcess::adopt(
            base_, *reaper_,
            {.name = instanceName(options_.backend, handed.slot), .pid = handed.pid,
             .out = handed.out, .err = handed.err, .max_line_length = options_.max_line_length},
            {.on_exit = [this](ChildProcess& c, const ExitStatus&) { onRetiredExit(c); }});
        child->terminate(options_.spawn.stop_timeout);
        retired_.push_back(Retired{.slot = handed.slot,
                                   .name = instanceName(options_.backend, handed.slot),
                                   .port = handed.port, .process = std::move(child)});
      }
      continue;
    }
    Slot& slot = slots_[handed.slot];
    slot.restarts = handed.restarts;
    slot.port = handed.port;
    slot.started_at = handed.started_at;
    if (handed.pid > 0) {
      const auto age = std::chrono::system_clock::now() - handed.started_at;
      slot.process = ChildProcess::adopt(
          base_, *reaper_,
          {.name = slot.name, .pid = handed.pid, .out = handed.out, .err = handed.err,
           .started_at = std::chrono::steady_clock::now() -
                         std::chrono::duration_cast<std::chrono::steady_clock::duration>(age),
           .max_line_length = options_.max_line_length},
          eventsFor(slot.index));
      slot.state = InstanceState::Running;
      log::cluster()->info("{} [{}] adopted on port {}", slot.name, handed.pid, slot.port);
    }
  }
  for (Slot& slot : slots_) {
    if (!slot.process) {
      startSlot(slot);
    }
    if (callbacks_.on_instance_changed) {
      callbacks_.on_instance_changed(slot.index, addressOf(slot.port));
    }
  }
}

} // namespace corral::cluster
