#pragma once
// Cluster mode (DESIGN.md, backends[].spawn): corral starts the cloned instances of a backend
// itself, keeps them alive and rolls them one at a time. One Supervisor manages the instances of
// one backend. It runs on the control thread's event_base and never blocks it, except in its
// destructor, which kills what is left and waits for it so that no child outlives corral.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "corral/config/config.h"
#include "corral/core/address.h"
#include "corral/core/error.h"

struct event_base;

namespace corral::cluster {

using Duration = std::chrono::milliseconds;
using namespace std::chrono_literals;

/// Where a slot is in its life. `ctl status` prints these names (toString()).
enum class InstanceState {
  Starting, // forked; exec has not been confirmed yet
  Running,  // the command runs (whether it serves is the health checker's business)
  Backoff,  // it exited; waiting before the next start
  Stopping, // SIGTERM sent by stop(); SIGKILL follows after stop_timeout
  Stopped,  // not started yet, or stopped for good
};
std::string_view toString(InstanceState state);

/// How an instance ended. Exactly one of the three causes applies.
struct ExitStatus {
  int code = 0;       // exit status, when it exited
  int signal = 0;     // the signal that killed it, else 0
  int exec_error = 0; // errno when the command could not be started (the child exits 127)
  /// "exited with status 3", "killed by signal 9 (KILL)", "could not start: No such file ...".
  std::string describe() const;
};

/// One slot as `ctl status` shows it. Plain data: a copy, safe to keep.
struct InstanceStatus {
  uint32_t slot = 0;
  std::string name;   // "app#0": stable across restarts
  pid_t pid = 0;      // 0 while no process serves the slot
  uint16_t port = 0;  // where the slot serves (changes on a rolling restart)
  InstanceState state = InstanceState::Stopped;
  std::chrono::system_clock::time_point started_at; // of the current process, for uptime
  uint64_t restarts = 0; // respawns after an exit; a rolling restart does not count
  std::optional<ExitStatus> last_exit;
  std::string last_error; // why the last start failed, empty when it did not
};

enum class Stream { Out, Err };

/// One line an instance wrote, without its newline. Lines longer than
/// SupervisorOptions::max_line_length are cut and end in " [cut]".
struct OutputLine {
  pid_t pid = 0;
  Stream stream = Stream::Out;
  std::string text;
};

struct SupervisorOptions {
  std::string backend;       // "app": instances are named "app#0", "app#1", ...
  config::SpawnConfig spawn; // command, instances (0 = one per core), ports, cwd, env, stop_timeout
  std::string host = "127.0.0.1"; // where corral reaches the instances
  Duration backoff_initial = 100ms; // first respawn delay, doubled after each quick exit
  Duration backoff_max = 30s;
  Duration stable_after = 10s;      // an instance that ran this long resets its backoff
  Duration healthy_deadline = 30s;  // a rolling replacement that is not healthy by then is dropped
  size_t output_lines = 500;        // kept per slot for `ctl logs`
  size_t max_line_length = 16 * 1024;
};

/// How the supervisor talks to the rest of corral; every member is optional. All are called on
/// the event_base's thread.
struct SupervisorCallbacks {
  /// The address that serves `slot` changed: on the first start and when a rolling restart
  /// switches the slot to its replacement. A respawn after a crash keeps the slot's port.
  std::function<void(uint32_t slot, const SocketAddress& address)> on_instance_changed;
  /// A slot is respawned after its process exited (for corral_instance_restarts_total).
  std::function<void(uint32_t slot)> on_restart;
  /// Rolling restart: report true once `address` passes its health check. The supervisor gives
  /// up after healthy_deadline on its own; a false report gives up at once. A late call after
  /// giving up is ignored. Required by restart(), which fails without it.
  std::function<void(const SocketAddress& address, std::function<void(bool healthy)> done)>
      wait_healthy;
  /// Rolling restart: `old_address` no longer gets new connections (the slot was switched);
  /// call `drained` once its connections have ended. The supervisor stops waiting after
  /// stop_timeout anyway. Default: drained at once.
  std::function<void(uint32_t slot, const SocketAddress& old_address, std::function<void()> drained)>
      drain_old;
};

/// One slot as `corral ctl upgrade` hands it to the new corral process.
struct HandoverSlot {
  uint32_t slot = 0;
  pid_t pid = 0;      // 0: no process (in backoff); the new corral starts one
  uint16_t port = 0;
  uint64_t restarts = 0;
  std::chrono::system_clock::time_point started_at;
  int out = -1;       // read ends of the process's stdout and stderr pipes
  int err = -1;
};

/// Identifies one followOutput() subscription.
using FollowerId = uint64_t;

class Supervisor {
public:
  virtual ~Supervisor() = default;

  /// Starts every slot. A slot whose command cannot start is logged and retried with backoff;
  /// the others run regardless. Call once.
  virtual void start() = 0;

  /// Rolling restart, one slot at a time: start a replacement on a free port, wait until it is
  /// healthy, switch the slot, drain and stop the old process. Slots that are not running are
  /// skipped. `done` gets the outcome; an error when a replacement never got healthy (the old
  /// process keeps the slot and the roll stops there).
  /// @return an error, and `done` is not called, when a roll is already running or stop() was
  ///         called.
  virtual Result<void> restart(std::function<void(Result<void>)> done) = 0;

  /// Applies a changed spawn section to running instances (a reload, `ctl scale`). More
  /// instances: the new slots start on free ports of the range. Fewer: the highest slots go as a
  /// rolled-out process does (drain_old, then SIGTERM). A changed command, env, cwd or port range
  /// rolls the slots one by one as restart() does; `done` gets that roll's outcome, or success at
  /// once when nothing rolls. Before start() it only records the new section.
  /// @return an error, changing nothing, while a rolling restart runs, after stop(), or when
  ///         checkSpawn() refuses the section.
  virtual Result<void> reconfigure(const config::SpawnConfig& spawn,
                                   std::function<void(Result<void>)> done) = 0;

  /// SIGTERM to every instance's process group, SIGKILL after stop_timeout; `done` once all are
  /// reaped (at once when none runs). `done` may destroy the Supervisor.
  virtual void stop(std::function<void()> done) = 0;

  /// Upgrade handover, old side: stops respawning and reading output and returns every slot.
  /// Fails while a rolling restart runs (or its old processes drain). thaw() undoes it (the new
  /// corral failed); release() forgets every process without signalling it (the new corral
  /// watches them now).
  virtual Result<std::vector<HandoverSlot>> freeze() = 0;
  virtual void thaw() = 0;
  virtual void release() = 0;
  /// Upgrade handover, new side, instead of start(): watches the running processes of `slots`
  /// (taking their pipes), starts the slots that have none, stops the ones beyond `instances`.
  virtual void adopt(const std::vector<HandoverSlot>& slots) = 0;

  virtual std::vector<InstanceStatus> status() const = 0;
  virtual const std::string& backend() const = 0;
  virtual uint32_t instances() const = 0;
  virtual bool rolling() const = 0;

  /// The last SupervisorOptions::output_lines lines of `slot`, oldest first, across restarts.
  virtual std::vector<OutputLine> recentOutput(uint32_t slot) const = 0;
  /// Calls `on_line` for each new line of `slot` until unfollowOutput() (`ctl logs --follow`).
  virtual FollowerId followOutput(uint32_t slot,
                                  std::function<void(const OutputLine&)> on_line) = 0;
  virtual void unfollowOutput(FollowerId id) = 0;
};

/// "app#2".
std::string instanceName(std::string_view backend, uint32_t slot);

/// A spawn section a supervisor can run: a command, at least one instance, and a port range with a
/// port per instance plus one spare for rolling restarts. The message names `backend`.
Result<void> checkSpawn(std::string_view backend, const config::SpawnConfig& spawn);

/// Checks the options (checkSpawn() and a numeric host) and builds a supervisor that has not
/// started anything yet.
Result<std::unique_ptr<Supervisor>> makeSupervisor(event_base* base, SupervisorOptions options,
                                                   SupervisorCallbacks callbacks = {});

} // namespace corral::cluster
