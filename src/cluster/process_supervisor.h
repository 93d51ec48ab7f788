#pragma once
// The Supervisor of include/corral/cluster/supervisor.h: slots of ChildProcess, respawned with
// RestartBackoff, rolled one at a time. Respawn and stop live in process_supervisor.cpp, the
// rolling restart in rolling_restart.cpp.

#include <memory>
#include <optional>
#include <vector>

#include "cluster/child_process.h"
#include "cluster/child_reaper.h"
#include "cluster/output_ring.h"
#include "cluster/restart_backoff.h"
#include "corral/core/timer.h"
#include "corral/cluster/supervisor.h"

namespace corral::cluster {

class ProcessSupervisor final : public Supervisor {
public:
  ProcessSupervisor(event_base* base, SupervisorOptions options, SupervisorCallbacks callbacks);
  ~ProcessSupervisor() override;

  void start() override;
  Result<void> restart(std::function<void(Result<void>)> done) override;
  Result<void> reconfigure(const config::SpawnConfig& spawn,
                           std::function<void(Result<void>)> done) override;
  void stop(std::function<void()> done) override;
  Result<std::vector<HandoverSlot>> freeze() override;
  void thaw() override;
  void release() override;
  void adopt(const std::vector<HandoverSlot>& slots) override;
  std::vector<InstanceStatus> status() const override;
  const std::string& backend() const override { return options_.backend; }
  uint32_t instances() const override { return static_cast<uint32_t>(slots_.size()); }
  bool rolling() const override { return roll_ != nullptr; }
  std::vector<OutputLine> recentOutput(uint32_t slot) const override;
  FollowerId followOutput(uint32_t slot, std::function<void(const OutputLine&)> on_line) override;
  void unfollowOutput(FollowerId id) override;

private:
  struct Slot {
    uint32_t index = 0;
    std::string name; // "app#0"
    uint16_t port = 0;
    InstanceState state = InstanceState::Stopped;
    std::unique_ptr<ChildProcess> process;
    std::chrono::system_clock::time_point started_at;
    uint64_t restarts = 0;
    std::optional<ExitStatus> last_exit;
    std::string last_error;
    RestartBackoff backoff;
    std::unique_ptr<Timer> respawn;
    OutputRing output;
  };

  /// A process that no longer serves its slot (replaced by a rolling restart, or a replacement
  /// that was given up): drained, then terminated, kept until reaped.
  struct Retired {
    uint32_t slot = 0;
    std::string name; // "app#2": the slot may be gone (scaled down)
    uint16_t port = 0;
    std::unique_ptr<ChildProcess> process;
    std::unique_ptr<Timer> drain_guard; // null once draining is over (or was never needed)
  };

  /// The rolling restart in progress.
  struct Roll {
    std::function<void(Result<void>)> done;
    uint32_t slot = 0;  // the slot being replaced
    uint64_t step = 0;  // a late callback from an earlier step carries an older number
    uint16_t port = 0;  // of the replacement
    std::unique_ptr<ChildProcess> replacement;
    std::unique_ptr<Timer> deadline;
    pid_t old_pid = 0;  // the step ends when this process has been reaped
  };

  // process_supervisor.cpp: starting, output, exits, respawn, stop.
  Slot& addSlot(uint16_t port);
  Result<std::unique_ptr<ChildProcess>> launch(uint32_t slot, uint16_t port);
  void startSlot(Slot& slot);
  void onExec(ChildProcess& child, uint32_t slot);
  void onLine(ChildProcess& child, uint32_t slot, Stream stream, std::string_view line);
  void onExit(ChildProcess& child, uint32_t slot, const ExitStatus& exit);
  void onSlotExit(Slot& slot, const ExitStatus& exit);
  void scheduleRespawn(Slot& slot, Duration uptime, const ExitStatus& exit, pid_t pid);
  void respawn(Slot& slot);
  void onRetiredExit(ChildProcess& child);
  void finishStopIfDone();
  SocketAddress addressOf(uint16_t port) const;
  std::string describeCommand() const;

  ChildEvents eventsFor(uint32_t slot);

  // supervisor_scale.cpp
  void scaleUp(uint32_t instances);
  void scaleDown(uint32_t instances);
  static bool sameProgram(const config::SpawnConfig& a, const config::SpawnConfig& b);

  // rolling_restart.cpp
  void rollFrom(uint32_t slot);
  void startReplacement(Slot& slot);
  void waitUntilHealthy(const SocketAddress& address, uint64_t step);
  void onReplacementHealth(uint64_t step, bool healthy);
  void switchToReplacement();
  void retire(uint32_t slot, uint16_t port, std::unique_ptr<ChildProcess> process);
  void onDrained(pid_t pid);
  void onReplacementExit(const ExitStatus& exit);
  void giveUpReplacement(const std::string& reason);
  void finishRoll(Result<void> result);
  std::optional<uint16_t> freePort() const;

  event_base* base_;
  SupervisorOptions options_;
  SupervisorCallbacks callbacks_;
  std::shared_ptr<ChildReaper> reaper_; // declared before every ChildProcess: destroyed after
  std::vector<Slot> slots_;
  std::vector<Retired> retired_;
  std::unique_ptr<Roll> roll_;
  uint64_t roll_steps_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  std::vector<std::function<void()>> stopped_callbacks_;
  FollowerId next_follower_ = 1;
  std::map<FollowerId, uint32_t> follower_slots_;
  // Callbacks handed to code outside (wait_healthy, drain_old) hold a weak reference: one that
  // comes after the supervisor is gone is dropped.
  std::shared_ptr<ProcessSupervisor*> alive_ = std::make_shared<ProcessSupervisor*>(this);
};

} // namespace corral::cluster
