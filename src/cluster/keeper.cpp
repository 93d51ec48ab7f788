#include "cluster/keeper.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cluster/exec_child.h"
#include "corral/cluster/unix_message.h"

namespace corral::cluster {
namespace {

using Clock = std::chrono::steady_clock;

int keeper_socket = -1;

class Keeper {
public:
  Keeper(int socket, int signals) : socket_(socket), signals_(signals) {}
  [[noreturn]] void run();

private:
  void onRequest(const UnixMessage& message);
  void reapExited();
  void report(pid_t pid, int status);
  [[noreturn]] void stopAllAndExit();

  int socket_;
  int signals_;
  std::map<pid_t, std::chrono::milliseconds> children_; // pid → its stop_timeout
};

void Keeper::run() {
  for (;;) {
    pollfd fds[2] = {{.fd = socket_, .events = POLLIN}, {.fd = signals_, .events = POLLIN}};
    if (poll(fds, 2, -1) < 0) {
      continue; // EINTR
    }
    if ((fds[1].revents & POLLIN) != 0) {
      signalfd_siginfo info;
      while (read(signals_, &info, sizeof(info)) == sizeof(info)) {
      }
      reapExited();
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      auto message = receiveMessage(socket_, false);
      if (message) {
        onRequest(*message);
      } else if (message.error().code != ErrorCode::Unavailable) {
        stopAllAndExit(); // every corral that held the socket is gone
      }
    }
  }
}

void Keeper::onRequest(const UnixMessage& message) {
  for (int fd : message.fds) {
    ::close(fd); // requests carry none
  }
  const auto request = nlohmann::json::parse(message.text, nullptr, false);
  if (request.is_discarded() || !request.contains("spawn")) {
    return;
  }
  const ExecSpec spec{.program = request.value("program", ""),
                      .cwd = request.value("cwd", ""),
                      .argv = request.value("argv", std::vector<std::string>{}),
                      .envp = request.value("envp", std::vector<std::string>{})};
  const std::string name = request.value("spawn", "");
  if (spec.argv.empty()) {
    (void)sendMessage(socket_, nlohmann::json{{"error", name + ": empty command"}}.dump());
    return;
  }
  auto forked = forkExec(spec, name);
  if (!forked) {
    (void)sendMessage(socket_, nlohmann::json{{"error", forked.error().message}}.dump());
    return;
  }
  children_[forked->pid] = std::chrono::milliseconds(request.value("stop_ms", 10000));
  (void)sendMessage(socket_, nlohmann::json{{"pid", forked->pid}}.dump(),
                    {forked->out, forked->err, forked->exec_status});
  closeFd(forked->out);
  closeFd(forked->err);
  closeFd(forked->exec_status);
}

// While the exited child is a zombie its pid, and so its process group id, cannot be reused:
// that is the moment to kill what is left of its group (a grandchild holding the port would make
// the respawn fail), then reap.
void Keeper::reapExited() {
  for (;;) {
    siginfo_t info{};
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) {
      return;
    }
    const pid_t pid = info.si_pid;
    kill(-pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    children_.erase(pid);
    report(pid, status);
  }
}

void Keeper::report(pid_t pid, int status) {
  (void)sendMessage(socket_, nlohmann::json{{"exit", pid}, {"status", status}}.dump());
}

void Keeper::stopAllAndExit() {
  std::chrono::milliseconds grace{0};
  for (const auto& [pid, stop_timeout] : children_) {
    kill(-pid, SIGTERM);
    grace = std::max(grace, stop_timeout);
  }
  const auto deadline = Clock::now() + grace;
  while (!children_.empty() && Clock::now() < deadline) {
    pollfd fd{.fd = signals_, .events = POLLIN};
    poll(&fd, 1, 50);
    signalfd_siginfo info;
    while (read(signals_, &info, sizeof(info)) == sizeof(info)) {
    }
    reapExited();
  }
  for (const auto& [pid, stop_timeout] : children_) {
    kill(-pid, SIGKILL);
  }
  while (waitpid(-1, nullptr, 0) > 0) {
  }
  _exit(0);
}

[[noreturn]] void keeperMain(int socket) {
  prctl(PR_SET_NAME, "corral-keeper");
  // The terminal's ^C and systemd's SIGTERM reach corral, which stops the instances in order;
  // the keeper follows its socket, not signals.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE}) {
    signal(sig, SIG_IGN);
  }
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  const int signals = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signals < 0) {
    _exit(1);
  }
  Keeper(socket, signals).run();
}

} // namespace

Result<int> startKeeper() {
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) {
    return fail(ErrorCode::Io, fmt::format("keeper: socketpair: {}", std::strerror(errno)));
  }
  const pid_t pid = fork();
  if (pid < 0) {
    const int error = errno;
    ::close(ends[0]);
    ::close(ends[1]);
    return fail(ErrorCode::Io, fmt::format("keeper: fork: {}", std::strerror(error)));
  }
  if (pid == 0) {
    ::close(ends[0]);
    // Nothing of corral's but stdio and the socket: a listener kept here would outlive corral.
    const int socket = ends[1];
    if (socket > 3) {
      close_range(3, static_cast<unsigned>(socket) - 1, 0);
    }
    close_range(static_cast<unsigned>(socket) + 1, ~0U, 0);
    keeperMain(socket);
  }
  ::close(ends[1]);
  return ends[0];
}

void useKeeper(int socket) { keeper_socket = socket; }
int keeperSocket() { return keeper_socket; }

} // namespace corral::cluster
