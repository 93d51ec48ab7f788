#include <signal.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include <filesystem>
#include <fstream>

#include "commands.h"
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

#include "cluster/keeper.h"
#include "corral/cluster/unix_message.h"
#include "corral/config/loader.h"
#include "corral/control/control_plane.h"
#include "corral/core/log.h"

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "0.0.0"
#endif

namespace corral::cli {
namespace {

// Written to a temporary name and renamed, so a reader never sees half a file.
bool writeReadyFile(const std::string& path, const nlohmann::json& ready) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary);
    out << ready.dump() << '\n';
    if (!out) {
      return false;
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  return !error;
}

struct Signals {
  event_base* base;
  control::ControlPlane* plane;

  static void onSignal(evutil_socket_t signal, short, void* self) {
    auto* signals = static_cast<Signals*>(self);
    switch (signal) {
    case SIGUSR1:
      log::core()->info("SIGUSR1: reopening the access log");
      signals->plane->reopenAccessLog();
      return;
    case SIGUSR2: {
      log::core()->info("SIGUSR2: upgrading to the binary on disk");
      auto started = signals->plane->upgrade("", std::chrono::seconds(30));
      if (!started) {
        log::core()->error("upgrade: {}", started.error().message);
      }
      return;
    }
    case SIGHUP:
      log::core()->info("SIGHUP: reloading the configuration");
      sd_notify(0, "RELOADING=1");
      (void)signals->plane->reload(); // logs and counts its own outcome
      sd_notify(0, "READY=1");
      return;
    default:
      log::core()->info("{}: draining, then exiting", signal == SIGTERM ? "SIGTERM" : "SIGINT");
      sd_notify(0, "STOPPING=1");
      signals->plane->shutdown([base = signals->base] { event_base_loopexit(base, nullptr); });
    }
  }
};


// The new process of an upgrade: the handover socket its predecessor passed, or -1.
int takeUpgradeSocket() {
  const char* value = std::getenv(control::kUpgradeFdVariable);
  if (value == nullptr) {
    return -1;
  }
  const int fd = std::atoi(value);
  unsetenv(control::kUpgradeFdVariable);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

// Tells the old process why this one gives up (it keeps serving and `ctl upgrade` prints it).
int giveUp(int upgrade_socket, const std::string& reason) {
  log::core()->error("{}", reason);
  if (upgrade_socket >= 0) {
    (void)cluster::sendMessage(upgrade_socket, nlohmann::json{{"error", reason}}.dump());
  }
  return 1;
}

// The sockets and instances to take over: the old process's state when upgrading, else systemd's
// LISTEN_FDS. A fresh start forks the keeper here, while this process has one thread.
Result<control::Inherited> takeOver(int upgrade_socket) {
  if (upgrade_socket < 0) {
    auto keeper = cluster::startKeeper();
    if (!keeper) {
      return std::unexpected(keeper.error());
    }
    cluster::useKeeper(*keeper);
    return control::Inherited{.listeners = control::systemdListeners()};
  }
  (void)cluster::sendMessage(upgrade_socket, nlohmann::json{{"hello", getpid()}}.dump());
  auto state = control::receiveState(upgrade_socket);
  if (!state) {
    return std::unexpected(state.error());
  }
  control::Inherited inherited = control::inheritedFrom(state->first, state->second);
  cluster::useKeeper(inherited.keeper);
  return inherited;
}

std::string diagnosticsText(const std::vector<config::Diagnostic>& diagnostics) {
  std::string text;
  for (const auto& diagnostic : diagnostics) {
    log::config()->error("{}", diagnostic.toString());
    text += (text.empty() ? "" : "\n") + diagnostic.toString();
  }
  return text;
}

} // namespace

int runCommand(const RunOptions& options) {
  const int upgrade_socket = takeUpgradeSocket();
  auto loaded = config::loadFile(options.config_path);
  if (!loaded) {
    return giveUp(upgrade_socket, diagnosticsText(loaded.error()));
  }
  auto inherited = takeOver(upgrade_socket);
  if (!inherited) {
    return giveUp(upgrade_socket, inherited.error().message);
  }
  for (const auto& warning : loaded->warnings) {
    log::config()->warn("{}", warning.toString());
  }
  ::signal(SIGPIPE, SIG_IGN); // a peer that went away is an error return, not a signal
  event_base* base = event_base_new();
  auto plane = control::ControlPlane::create(base, options.config_path, std::move(loaded->config),
                                             std::move(*inherited));
  if (!plane) {
    event_base_free(base);
    return giveUp(upgrade_socket, plane.error().message);
  }
  Signals handler{.base = base, .plane = plane->get()};
  std::vector<event*> signals;
  for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2}) {
    signals.push_back(evsignal_new(base, signal, Signals::onSignal, &handler));
    event_add(signals.back(), nullptr);
  }
  (*plane)->onHandedOver([base] { event_base_loopexit(base, nullptr); });
  (*plane)->start();
  if (upgrade_socket >= 0) {
    (void)cluster::sendMessage(upgrade_socket,
                               nlohmann::json{{"ready", getpid()}, {"version", CORRAL_VERSION}}.dump());
    ::close(upgrade_socket);
    (*plane)->upgradeDone();
    // The unit's main process is this one now (NotifyAccess=all lets it say so).
    sd_notifyf(0, "MAINPID=%d", static_cast<int>(getpid()));
  }
  if (!options.ready_file.empty() && !writeReadyFile(options.ready_file, (*plane)->readyInfo())) {
    log::core()->error("cannot write {}", options.ready_file);
  }
  sd_notify(0, "READY=1"); // systemd Type=notify: every listener is bound
  event_base_dispatch(base);
  plane->reset(); // joins the drained workers, ends what the supervisors left
  for (event* signal : signals) {
    event_free(signal);
  }
  event_base_free(base);
  log::core()->info("stopped");
  return 0;
}

} // namespace corral::cli
