#pragma once
// Reaps the children that registered with it, and only those: other parts of corral (or a test
// harness) may have children of their own, so there is no waitpid(-1). One reaper per event_base
// owns that base's SIGCHLD event; every supervisor on the base shares it (libevent delivers a
// signal to one base only).

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>

#include <event2/event.h>

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

private:
  explicit ChildReaper(event_base* base);
  static void onSignal(evutil_socket_t, short, void* arg) noexcept;
  void reapExited();

  struct EventFree {
    void operator()(event* e) const { event_free(e); }
  };
  event_base* base_;
  std::unique_ptr<event, EventFree> sigchld_;
  std::map<pid_t, OnReaped> watched_;
};

/// Sends `signal` to the process group that `pid` leads, or to `pid` alone before it has one.
void killGroup(pid_t pid, int signal);

} // namespace corral::cluster
