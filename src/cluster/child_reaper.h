#pragma once
// Reaps the children that registered with it, and only those: other parts of corral (or a test
// harness) may have children of their own, so there is no waitpid(-1). One reaper per event_base
// owns that base's SIGCHLD event; every supervisor on the base shares it (libevent delivers a
// signal to one base only). Under `corral run` the keeper (keeper.h) is the parent of every
// instance: the reaper then asks it to spawn and learns of exits from its socket.

#include <sys/types.h>

#include <chrono>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <event2/event.h>

#include "cluster/exec_child.h"

namespace corral::cluster {

class ChildReaper : public std::enable_shared_from_this<ChildReaper> {
public:
  /// `status` as waitpid(2) returns it.
  using OnReaped = std::function<void(int status)>;

  /// The reaper of `base`, created on first use and shared while anyone holds it.
  static std::shared_ptr<ChildReaper> forBase(event_base* base);
  ~ChildReaper();
  ChildReaper(const ChildReaper&) = delete;
  ChildReaper& operator=(const ChildReaper&) = delete;

  /// Calls `on_reaped` once `pid` has exited and been reaped. Register right after fork, on the
  /// base's thread: a SIGCHLD that came in between is handled on the next loop turn.
  void watch(pid_t pid, OnReaped on_reaped);
  /// Forgets `pid` (its owner reaps it itself, e.g. with a blocking waitpid).
  void unwatch(pid_t pid) { watched_.erase(pid); }

  /// Forks and execs `spec`: through the keeper when there is one, else here.
  Result<ForkedChild> spawn(const ExecSpec& spec, const std::string& name,
                            std::chrono::milliseconds stop_timeout);
  bool viaKeeper() const { return keeper_ >= 0; }
  /// Upgrade handover: stop (and resume) reading the keeper's exit reports, so that the new
  /// corral gets the ones that come meanwhile.
  void pauseKeeper();
  void resumeKeeper();

private:
  explicit ChildReaper(event_base* base);
  static void onSignal(evutil_socket_t, short, void* arg) noexcept;
  static void onKeeper(evutil_socket_t, short, void* arg) noexcept;
  void reapExited();
  void readKeeper();
  void dispatch(pid_t pid, int status);

  struct EventFree {
    void operator()(event* e) const { event_free(e); }
  };
  event_base* base_;
  std::unique_ptr<event, EventFree> sigchld_;
  int keeper_ = -1;
  std::unique_ptr<event, EventFree> keeper_event_;
  std::vector<std::string> pending_exits_; // read while waiting for a spawn reply
  std::map<pid_t, OnReaped> watched_;
};

/// Sends `signal` to the process group that `pid` leads, or to `pid` alone before it has one.
void killGroup(pid_t pid, int signal);

} // namespace corral::cluster
