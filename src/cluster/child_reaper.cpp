#include "cluster/child_reaper.h"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "corral/core/log.h"

namespace corral::cluster {
namespace {

std::mutex registry_mutex;
std::map<event_base*, std::weak_ptr<ChildReaper>>& registry() {
  static std::map<event_base*, std::weak_ptr<ChildReaper>> reapers;
  return reapers;
}

} // namespace

void killGroup(pid_t pid, int signal) {
  if (kill(-pid, signal) != 0 && errno == ESRCH) {
    kill(pid, signal); // forked but not yet in its own group
  }
}

std::shared_ptr<ChildReaper> ChildReaper::forBase(event_base* base) {
  std::lock_guard lock(registry_mutex);
  std::weak_ptr<ChildReaper>& slot = registry()[base];
  if (auto reaper = slot.lock()) {
    return reaper;
  }
  std::shared_ptr<ChildReaper> reaper(new ChildReaper(base));
  slot = reaper;
  return reaper;
}

ChildReaper::ChildReaper(event_base* base)
    : base_(base), sigchld_(evsignal_new(base, SIGCHLD, &ChildReaper::onSignal, this)) {
  if (!sigchld_ || evsignal_add(sigchld_.get(), nullptr) != 0) {
    log::cluster()->critical("cannot watch SIGCHLD on the control event loop");
    std::abort();
  }
}

ChildReaper::~ChildReaper() {
  std::lock_guard lock(registry_mutex);
  auto it = registry().find(base_);
  if (it != registry().end() && it->second.expired()) {
    registry().erase(it);
  }
}

void ChildReaper::watch(pid_t pid, OnReaped on_reaped) { watched_[pid] = std::move(on_reaped); }

void ChildReaper::onSignal(evutil_socket_t, short, void* arg) noexcept {
  static_cast<ChildReaper*>(arg)->reapExited();
}

// SIGCHLDs coalesce, so every watched pid is checked on each one. While the exited child is a
// zombie its pid, and so its process group id, cannot be reused: that is the moment to kill what
// is left of its group (a grandchild holding the port would make the respawn fail), then reap.
void ChildReaper::reapExited() {
  auto self = shared_from_this(); // a callback may drop the last other owner
  std::vector<pid_t> pids;
  for (const auto& [pid, on_reaped] : watched_) {
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    siginfo_t info{};
    if (waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != pid) {
      continue;
    }
    kill(-pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    auto it = watched_.find(pid);
    if (it != watched_.end()) {
      OnReaped on_reaped = std::move(it->second);
      watched_.erase(it);
      on_reaped(status);
    }
  }
}

} // namespace corral::cluster
