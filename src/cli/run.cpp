#include <signal.h>
#include <unistd.h>

#include <event2/event.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "corral/config/loader.h"
#include "corral/core/log.h"
#include "corral/proxy/proxy.h"

namespace corral::cli {
namespace {

// Written to a temporary name and renamed, so a reader never sees half a file.
bool writeReadyFile(const std::string& path, const proxy::Proxy& proxy) {
  nlohmann::json ready;
  ready["pid"] = ::getpid();
  ready["frontends"] = nlohmann::json::object();
  for (const auto& [name, address] : proxy.boundAddresses()) {
    ready["frontends"][name] = address.toString();
  }
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

// The control thread's loop: signals now; health checks, admin and metrics join it later.
struct Control {
  event_base* base = event_base_new();
  proxy::Proxy* proxy = nullptr;
  bool stopping = false;

  static void onSignal(evutil_socket_t signal, short, void* self) {
    auto* control = static_cast<Control*>(self);
    if (signal == SIGUSR1) {
      log::core()->info("SIGUSR1: reopening the access log");
      control->proxy->reopenAccessLog();
      return;
    }
    if (signal == SIGHUP) {
      log::core()->warn("SIGHUP: reload is not available yet; configuration unchanged"); // TODO(#5)
      return;
    }
    log::core()->info("{}: draining, then exiting", signal == SIGTERM ? "SIGTERM" : "SIGINT");
    control->stopping = true;
    control->proxy->drain();
    event_base_loopexit(control->base, nullptr);
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
  auto snapshot = runtime::Snapshot::build(std::move(loaded->config));
  if (!snapshot) {
    log::core()->error("{}", snapshot.error().message);
    return 1;
  }
  ::signal(SIGPIPE, SIG_IGN); // a peer that went away is an error return, not a signal
  auto proxy = proxy::Proxy::create(*snapshot);
  if (!proxy) {
    log::core()->error("{}", proxy.error().message);
    return 1;
  }
  Control control{.proxy = proxy->get()};
  std::vector<event*> signals;
  for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) {
    signals.push_back(evsignal_new(control.base, signal, Control::onSignal, &control));
    event_add(signals.back(), nullptr);
  }
  (*proxy)->start();
  if (!options.ready_file.empty() && !writeReadyFile(options.ready_file, **proxy)) {
    log::core()->error("cannot write {}", options.ready_file);
  }
  event_base_dispatch(control.base);
  (*proxy)->join();
  for (event* signal : signals) {
    event_free(signal);
  }
  event_base_free(control.base);
  log::core()->info("stopped");
  return 0;
}

} // namespace corral::cli
