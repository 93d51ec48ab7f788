#pragma once
// One spawned instance: fork + exec of the command in its own process group, with PORT,
// CORRAL_INSTANCE and CORRAL_INSTANCES set, stdout and stderr read line by line on the event
// loop, and its exit reported through the ChildReaper. Destroying a ChildProcess that still runs
// kills its group and reaps it synchronously: a child never outlives its owner.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <event2/event.h>

#include "cluster/child_reaper.h"
#include "cluster/line_splitter.h"
#include "corral/core/timer.h"
#include "corral/cluster/supervisor.h"
#include "corral/core/error.h"

namespace corral::cluster {

/// strerror(), thread-safe: for the errno values that fork/exec/pipe report.
std::string errorText(int error);

struct SpawnRequest {
  std::chrono::milliseconds stop_timeout{10'000}; // the keeper's grace when corral is gone
  std::string name;                 // "app#0", for log lines
  std::vector<std::string> command; // program and arguments; a bare name is looked up in PATH
  std::string cwd;                  // empty: corral's own
  std::map<std::string, std::string> env; // added to (or replacing) corral's environment
  size_t max_line_length = 16 * 1024;
};

class ChildProcess;

/// Every callback gets the process it is about, so one owner can tell several apart.
struct ChildEvents {
  std::function<void(ChildProcess&)> on_exec; // the command replaced the forked child
  std::function<void(ChildProcess&, Stream, std::string_view line)> on_line;
  /// Last call; its output has been read to the end. The callee may destroy the ChildProcess.
  std::function<void(ChildProcess&, const ExitStatus&)> on_exit;
};

class ChildProcess {
public:
  /// Forks and execs. Fails only when the fork itself (or a pipe) fails; a command that cannot be
  /// executed is reported by on_exit with ExitStatus::exec_error.
  static Result<std::unique_ptr<ChildProcess>> spawn(event_base* base, ChildReaper& reaper,
                                                     const SpawnRequest& request,
                                                     ChildEvents events);
  /// A running instance handed over by the corral this one upgrades (its pipes' read ends).
  struct Adopted {
    std::string name;
    pid_t pid = 0;
    int out = -1;
    int err = -1;
    std::chrono::steady_clock::time_point started_at;
    size_t max_line_length = 16 * 1024;
  };
  static std::unique_ptr<ChildProcess> adopt(event_base* base, ChildReaper& reaper,
                                             const Adopted& adopted, ChildEvents events);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool exited() const { return exited_; }
  std::chrono::steady_clock::time_point startedAt() const { return started_at_; }

  /// SIGTERM to the process group, SIGKILL after `grace` if it has not exited by then.
  void terminate(std::chrono::milliseconds grace);
  bool terminating() const { return terminating_; }

  /// Upgrade handover: stop reading the output pipes and return them (stdout, stderr), so that
  /// they can be passed on; resumeOutput() if the handover fails.
  std::vector<int> pauseOutput();
  void resumeOutput();
  /// The handover succeeded: another corral watches this process now. Closes the pipes and
  /// forgets the process without signalling it.
  void release();

private:
  struct Pipe;
  ChildProcess(event_base* base, ChildReaper& reaper, pid_t pid, std::string name,
               ChildEvents events);
  void watchPipe(int fd, Stream stream, size_t max_line_length);
  void watchExecStatus(int fd);
  static void onExecStatus(evutil_socket_t fd, short, void* arg) noexcept;
  void readExecStatus();
  void onReaped(int wait_status);
  void drainOutput();

  event_base* base_;
  ChildReaper& reaper_;
  pid_t pid_;
  std::string name_;
  std::chrono::steady_clock::time_point started_at_ = std::chrono::steady_clock::now();
  ChildEvents events_;
  std::vector<std::unique_ptr<Pipe>> pipes_;
  int exec_status_fd_ = -1;
  event* exec_status_event_ = nullptr;
  int exec_error_ = 0;
  bool exited_ = false;
  bool terminating_ = false;
  Timer kill_timer_;
};

} // namespace corral::cluster
