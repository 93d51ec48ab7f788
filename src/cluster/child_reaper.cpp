#include "cluster/child_reaper.h"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cluster/keeper.h"
#include "corral/cluster/unix_message.h"
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

ChildReaper::ChildReaper(event_base* base) : base_(base), keeper_(keeperSocket()) {
  if (keeper_ >= 0) {
    keeper_event_.reset(event_new(base, keeper_, EV_READ | EV_PERSIST, &ChildReaper::onKeeper, this));
    event_add(keeper_event_.get(), nullptr);
    return;
  }
  sigchld_.reset(evsignal_new(base, SIGCHLD, &ChildReaper::onSignal, this));
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
    dispatch(pid, status);
  }
}

void ChildReaper::dispatch(pid_t pid, int status) {
  auto it = watched_.find(pid);
  if (it != watched_.end()) {
    OnReaped on_reaped = std::move(it->second);
    watched_.erase(it);
    on_reaped(status);
  }
}

Result<ForkedChild> ChildReaper::spawn(const ExecSpec& spec, const std::string& name,
                                       std::chrono::milliseconds stop_timeout) {
  if (keeper_ < 0) {
    return forkExec(spec, name);
  }
  const nlohmann::json request{{"spawn", name},       {"program", spec.program},
                               {"cwd", spec.cwd},     {"argv", spec.argv},
                               {"envp", spec.envp},   {"stop_ms", stop_timeout.count()}};
  if (auto sent = sendMessage(keeper_, request.dump()); !sent) {
    return fail(ErrorCode::Io, fmt::format("{}: keeper: {}", name, sent.error().message));
  }
  // The keeper answers at once (it forks and does not wait for exec); exit reports that come
  // first are kept for the loop, so no callback runs inside spawn().
  for (;;) {
    auto reply = receiveMessage(keeper_, true);
    if (!reply) {
      return fail(ErrorCode::Io, fmt::format("{}: keeper: {}", name, reply.error().message));
    }
    const auto json = nlohmann::json::parse(reply->text, nullptr, false);
    if (json.contains("exit")) {
      pending_exits_.push_back(std::move(reply->text));
      event_active(keeper_event_.get(), EV_READ, 0);
      continue;
    }
    if (json.contains("error") || reply->fds.size() != 3) {
      for (int fd : reply->fds) {
        ::close(fd);
      }
      return fail(ErrorCode::Io, json.value("error", name + ": keeper: malformed reply"));
    }
    return ForkedChild{.pid = json.value("pid", -1), .out = reply->fds[0], .err = reply->fds[1],
                       .exec_status = reply->fds[2]};
  }
}

void ChildReaper::onKeeper(evutil_socket_t, short, void* arg) noexcept {
  static_cast<ChildReaper*>(arg)->readKeeper();
}

void ChildReaper::readKeeper() {
  auto self = shared_from_this(); // a callback may drop the last other owner
  std::vector<std::string> texts = std::exchange(pending_exits_, {});
  for (;;) {
    auto message = receiveMessage(keeper_, false);
    if (!message) {
      if (message.error().code != ErrorCode::Unavailable) {
        log::cluster()->critical("the keeper process is gone ({}); instances cannot be "
                                 "respawned", message.error().message);
        event_del(keeper_event_.get());
      }
      break;
    }
    for (int fd : message->fds) {
      ::close(fd);
    }
    texts.push_back(std::move(message->text));
  }
  for (const std::string& text : texts) {
    const auto json = nlohmann::json::parse(text, nullptr, false);
    if (json.contains("exit")) {
      dispatch(json.value("exit", 0), json.value("status", 0));
    }
  }
}

void ChildReaper::pauseKeeper() {
  if (keeper_event_) {
    event_del(keeper_event_.get());
  }
}

void ChildReaper::resumeKeeper() {
  if (keeper_event_) {
    event_add(keeper_event_.get(), nullptr);
    event_active(keeper_event_.get(), EV_READ, 0);
  }
}

} // namespace corral::cluster
