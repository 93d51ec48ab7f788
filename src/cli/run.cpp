#include <signal.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include <filesystem>
#include <fstream>

#include "commands.h"
#include "corral/config/loader.h"
#include "corral/control/control_plane.h"
#include "corral/core/log.h"

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

} // namespace

int runCommand(const RunOptions& options) {
  auto loaded = config::loadFile(options.config_path);
  if (!loaded) {
    for (const auto& diagnostic : loaded.error()) {
      log::config()->error("{}", diagnostic.toString());
    }
    return 1;
  }
  for (const auto& warning : loaded->warnings) {
    log::config()->warn("{}", warning.toString());
  }
  ::signal(SIGPIPE, SIG_IGN); // a peer that went away is an error return, not a signal
  event_base* base = event_base_new();
  auto plane = control::ControlPlane::create(base, options.config_path, std::move(loaded->config));
  if (!plane) {
    log::core()->error("{}", plane.error().message);
    event_base_free(base);
    return 1;
  }
  Signals handler{.base = base, .plane = plane->get()};
  std::vector<event*> signals;
  for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) {
    signals.push_back(evsignal_new(base, signal, Signals::onSignal, &handler));
    event_add(signals.back(), nullptr);
  }
  (*plane)->start();
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
