// `corral ctl upgrade` and SIGUSR2, the old process's side (docs/architecture.md, "Upgrading
// corral"): start the new binary with one end of a socketpair, send it every listening socket,
// the keeper's socket and the instance table once it has loaded its configuration, and when it
// reports ready, stop accepting, drain and exit. Until then nothing here has changed: a new
// process that fails leaves this one serving as before.

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "cluster/keeper.h"
#include "corral/cluster/unix_message.h"
#include "corral/control/control_plane.h"
#include "corral/core/log.h"
#include "corral/core/timer.h"
#include "corral/core/units.h"

extern char** environ;

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "0.0.0"
#endif

namespace corral::control {
namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The binary on disk: /proc/self/exe names the file this process runs, with " (deleted)" once a
// package upgrade replaced it, which is the file to run now.
std::string currentBinary() {
  std::error_code error;
  std::string path = std::filesystem::read_symlink("/proc/self/exe", error).string();
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.ends_with(kDeleted)) {
    path.resize(path.size() - kDeleted.size());
  }
  return path;
}

std::vector<std::string> ownArguments() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (size_t begin = 0; begin < all.size();) {
    const size_t end = all.find('\0', begin);
    args.push_back(all.substr(begin, end - begin));
    begin = end == std::string::npos ? all.size() : end + 1;
  }
  return args;
}

// fork + exec with `socket` as CORRAL_UPGRADE_FD; everything is built before fork.
Result<pid_t> startNewProcess(const std::string& binary, int socket) {
  std::vector<std::string> args = ownArguments();
  if (args.empty()) {
    return fail(ErrorCode::Io, "cannot read /proc/self/cmdline");
  }
  args[0] = binary;
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (!std::string_view(*entry).starts_with(kUpgradeFdVariable)) {
      env.emplace_back(*entry);
    }
  }
  env.push_back(fmt::format("{}={}", kUpgradeFdVariable, socket));
  std::vector<char*> argv, envp;
  for (auto& arg : args) argv.push_back(arg.data());
  for (auto& var : env) envp.push_back(var.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    fcntl(socket, F_SETFD, 0);
    execve(binary.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  if (pid < 0) {
    return fail(ErrorCode::Io, fmt::format("fork: {}", std::strerror(errno)));
  }
  return pid;
}

} // namespace

struct ControlPlane::Upgrade {
  uint64_t id = 0;
  pid_t pid = -1;
  int socket = -1;
  int64_t started_ms = 0;
  event* readable = nullptr;
  std::unique_ptr<Timer> deadline;
  std::unique_ptr<Timer> exit_wait; // after the socket closed: polls for the exit status
  int exit_checks = 0;
  bool state_sent = false;

  ~Upgrade() {
    if (readable != nullptr) {
      event_free(readable);
    }
    if (socket >= 0) {
      ::close(socket);
    }
  }
};

Result<nlohmann::json> ControlPlane::upgrade(const std::string& requested,
                                             std::chrono::milliseconds ready_timeout) {
  if (stopping_ || !started_) {
    return fail(ErrorCode::Unavailable, "corral is stopping");
  }
  if (upgrade_) {
    return fail(ErrorCode::Unavailable, "an upgrade is already in progress");
  }
  const std::string binary = requested.empty() ? currentBinary() : requested;
  if (access(binary.c_str(), X_OK) != 0) {
    return fail(ErrorCode::BadInput, fmt::format("{}: not an executable file", binary));
  }
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) {
    return fail(ErrorCode::Io, fmt::format("socketpair: {}", std::strerror(errno)));
  }
  auto pid = startNewProcess(binary, ends[1]);
  ::close(ends[1]);
  if (!pid) {
    ::close(ends[0]);
    return std::unexpected(pid.error());
  }
  upgrade_ = std::make_unique<Upgrade>();
  upgrade_->id = (static_cast<uint64_t>(getpid()) << 16) + ++upgrades_;
  upgrade_->pid = *pid;
  upgrade_->socket = ends[0];
  upgrade_->started_ms = nowMs();
  upgrade_->readable = event_new(base_, ends[0], EV_READ | EV_PERSIST, &onUpgradeMessage, this);
  event_add(upgrade_->readable, nullptr);
  upgrade_->deadline = std::make_unique<Timer>(base_, [this, ready_timeout] {
    failUpgrade(fmt::format("the new process was not ready within {}", formatDuration(ready_timeout)));
  });
  upgrade_->deadline->start(ready_timeout);
  upgrade_status_ = {{"id", upgrade_->id},          {"state", "running"},
                     {"old_pid", getpid()},         {"old_version", CORRAL_VERSION},
                     {"new_pid", *pid},             {"binary", binary}};
  log::core()->info("upgrade: started {} as pid {}", binary, *pid);
  return upgrade_status_;
}

void ControlPlane::onUpgradeMessage(evutil_socket_t, short, void* self) noexcept {
  auto* plane = static_cast<ControlPlane*>(self);
  auto message = cluster::receiveMessage(plane->upgrade_->socket, false);
  if (!message && message.error().code == ErrorCode::Unavailable) {
    return;
  }
  for (int fd : message ? message->fds : std::vector<int>{}) {
    ::close(fd);
  }
  if (!message) {
    event_del(plane->upgrade_->readable);
    plane->awaitNewProcessExit();
    return;
  }
  const auto json = nlohmann::json::parse(message->text, nullptr, false);
  if (json.contains("hello") && !plane->upgrade_->state_sent) {
    plane->sendUpgradeState();
  } else if (json.contains("ready")) {
    plane->upgrade_status_["new_version"] = json.value("version", "");
    plane->finishUpgrade();
  } else {
    plane->failUpgrade(json.value("error", std::string("the new process sent an unexpected message")));
  }
}

// The new process closed the socket, which it does as it exits: give the exit a moment to be
// reapable, so that the reason says how it ended.
void ControlPlane::awaitNewProcessExit() {
  constexpr int kTries = 50;
  constexpr std::chrono::milliseconds kInterval{10};
  Upgrade& upgrade = *upgrade_;
  int status = 0;
  if (waitpid(upgrade.pid, &status, WNOHANG) == upgrade.pid) {
    upgrade.pid = -1;
    failUpgrade(WIFEXITED(status)
                    ? fmt::format("the new process exited with status {}", WEXITSTATUS(status))
                    : fmt::format("the new process was killed by signal {}", WTERMSIG(status)));
  } else if (++upgrade.exit_checks >= kTries) {
    failUpgrade("the new process closed the handover socket");
  } else {
    if (!upgrade.exit_wait) {
      upgrade.exit_wait = std::make_unique<Timer>(base_, [this] { awaitNewProcessExit(); });
    }
    upgrade.exit_wait->start(kInterval);
  }
}

// Freezes the supervisors (no respawn, no output read, no exit report read: the new process
// reads what comes from now on) and sends the state with every descriptor.
void ControlPlane::sendUpgradeState() {
  std::vector<int> fds;
  nlohmann::json state = handoverState(fds);
  if (state.contains("error")) {
    failUpgrade(state["error"].get<std::string>());
    return;
  }
  metrics_.reset(); // civetweb cannot adopt a socket: the new process binds metrics.listen anew
  upgrade_->state_sent = true;
  if (auto sent = sendState(upgrade_->socket, std::move(state), fds); !sent) {
    failUpgrade(fmt::format("handover: {}", sent.error().message));
  }
}

nlohmann::json ControlPlane::handoverState(std::vector<int>& fds) {
  auto add = [&fds](int fd) {
    fds.push_back(fd);
    return fds.size() - 1;
  };
  nlohmann::json state = {{"upgrade", upgrade_status_}};
  state["upgrade"]["started_ms"] = upgrade_->started_ms;
  for (const auto& supervisor : supervisors_) {
    auto slots = supervisor.second->freeze();
    if (!slots) {
      for (auto& [name, other] : supervisors_) {
        other->thaw();
      }
      return {{"error", slots.error().message}};
    }
    auto& list = state["backends"][supervisor.first] = nlohmann::json::array();
    for (const cluster::HandoverSlot& slot : *slots) {
      list.push_back({{"slot", slot.slot}, {"pid", slot.pid}, {"port", slot.port},
                      {"restarts", slot.restarts},
                      {"started_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                         slot.started_at.time_since_epoch()).count()},
                      {"out", slot.out >= 0 ? add(slot.out) : -1},
                      {"err", slot.err >= 0 ? add(slot.err) : -1}});
    }
  }
  for (const auto& listener : proxy_->listeners()) {
    nlohmann::json indices = nlohmann::json::array();
    for (int fd : listener.fds) {
      indices.push_back(add(fd));
    }
    state["frontends"].push_back({{"name", listener.frontend}, {"fds", indices}});
  }
  if (admin_ && admin_->listenerFd() >= 0) {
    const auto& listen = snapshot_->config.admin->listen;
    state["admin"] = add(admin_->listenerFd());
    state["admin_listen"] = fmt::format("{}:{}", listen.host, listen.port);
  }
  if (cluster::keeperSocket() >= 0) {
    state["keeper"] = add(cluster::keeperSocket());
  }
  for (const auto& [backend, in_file] : scaled_) {
    state["scaled"][backend] = {{"file", in_file},
                                {"instances", supervisor(backend)->instances()}};
  }
  for (const runtime::Backend& backend : current()->backends) {
    for (const runtime::Server& server : backend.servers) {
      const auto health = server.stats->health.load();
      if (health != runtime::Health::Unknown) {
        state["health"][backend.config->name + "/" + server.name] =
            health == runtime::Health::Up ? "up" : "down";
      }
    }
  }
  return state;
}

// The new process serves: this one stops accepting, lets its sessions finish and exits.
void ControlPlane::finishUpgrade() {
  const int64_t took = nowMs() - upgrade_->started_ms;
  upgrade_status_["state"] = "done";
  upgrade_status_["handover_ms"] = took;
  log::core()->info("upgrade: pid {} took over in {} ms; draining and exiting", upgrade_->pid,
                    took);
  upgrade_->deadline.reset();
  upgrade_.reset();
  if (admin_) {
    admin_->stopAccepting();
  }
  for (auto& [name, supervisor] : supervisors_) {
    supervisor->release();
  }
  shutdown([this] {
    if (on_handed_over_) {
      on_handed_over_();
    }
  });
}

void ControlPlane::failUpgrade(const std::string& reason) {
  log::core()->error("upgrade failed: {}; this process keeps serving", reason);
  if (upgrade_->pid > 0) {
    kill(upgrade_->pid, SIGKILL); // never a graceful stop: it may hold adopted instances
    waitpid(upgrade_->pid, nullptr, 0);
  }
  if (upgrade_->state_sent) {
    for (auto& [name, supervisor] : supervisors_) {
      supervisor->thaw();
    }
    if (auto metrics = openMetrics(); !metrics) {
      log::core()->error("{}", metrics.error().message);
    }
  }
  upgrade_status_["state"] = "failed";
  upgrade_status_["reason"] = reason;
  upgrade_.reset();
}

void ControlPlane::upgradeDone() {
  if (upgrade_status_.value("state", "") != "running") {
    return;
  }
  upgrade_status_["state"] = "done";
  upgrade_status_["new_pid"] = getpid();
  upgrade_status_["new_version"] = CORRAL_VERSION;
  upgrade_status_["handover_ms"] = nowMs() - upgrade_status_.value("started_ms", nowMs());
}

Result<void> ControlPlane::openMetrics() {
  const runtime::SnapshotPtr snapshot = current();
  if (!snapshot->config.metrics || metrics_) {
    return {};
  }
  auto server = metrics::MetricsServer::create(
      *snapshot->config.metrics, [this] { return current(); }, control_metrics_);
  if (!server) {
    return std::unexpected(server.error());
  }
  metrics_ = std::move(*server);
  return {};
}

void ControlPlane::seedHealth() {
  for (const runtime::Backend& backend : snapshot_->backends) {
    for (const runtime::Server& server : backend.servers) {
      const auto found = inherited_.health.find(backend.config->name + "/" + server.name);
      if (found != inherited_.health.end()) {
        server.stats->health.store(found->second == "up" ? runtime::Health::Up
                                                         : runtime::Health::Down);
      }
    }
  }
}

} // namespace corral::control
