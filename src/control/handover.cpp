#include "corral/control/handover.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

#include "corral/cluster/unix_message.h"
#include "corral/core/log.h"

namespace corral::control {
namespace {

SocketAddress localAddress(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length);
  return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&storage), length);
}

int fdAt(const std::vector<int>& fds, const nlohmann::json& index) {
  if (!index.is_number_integer()) {
    return -1;
  }
  const auto i = index.get<int64_t>();
  return i >= 0 && static_cast<size_t>(i) < fds.size() ? fds[static_cast<size_t>(i)] : -1;
}

} // namespace

Result<void> sendState(int socket, nlohmann::json state, const std::vector<int>& fds) {
  state["fd_count"] = fds.size();
  if (auto sent = cluster::sendMessage(socket, state.dump()); !sent) {
    return sent;
  }
  for (size_t first = 0; first < fds.size(); first += cluster::kMaxFds) {
    const size_t count = std::min(cluster::kMaxFds, fds.size() - first);
    std::vector<int> chunk(fds.begin() + static_cast<ptrdiff_t>(first),
                           fds.begin() + static_cast<ptrdiff_t>(first + count));
    if (auto sent = cluster::sendMessage(socket, nlohmann::json{{"fds", count}}.dump(), chunk);
        !sent) {
      return sent;
    }
  }
  return {};
}

Result<std::pair<nlohmann::json, std::vector<int>>> receiveState(int socket) {
  auto first = cluster::receiveMessage(socket, true);
  if (!first) {
    return std::unexpected(first.error());
  }
  auto state = nlohmann::json::parse(first->text, nullptr, false);
  if (state.is_discarded() || !state.contains("fd_count")) {
    return fail(ErrorCode::BadInput, "the handover state is not what this version expects");
  }
  std::vector<int> fds;
  const size_t count = state.value("fd_count", size_t{0});
  while (fds.size() < count) {
    auto more = cluster::receiveMessage(socket, true);
    if (!more) {
      for (int fd : fds) {
        ::close(fd);
      }
      return std::unexpected(more.error());
    }
    fds.insert(fds.end(), more->fds.begin(), more->fds.end());
  }
  return std::pair{std::move(state), std::move(fds)};
}

Inherited inheritedFrom(const nlohmann::json& state, const std::vector<int>& fds) {
  Inherited inherited;
  for (const auto& frontend : state.value("frontends", nlohmann::json::array())) {
    proxy::InheritedListener listener{.frontend = frontend.value("name", "")};
    for (const auto& index : frontend.value("fds", nlohmann::json::array())) {
      if (const int fd = fdAt(fds, index); fd >= 0) {
        listener.fds.push_back(fd);
      }
    }
    if (!listener.fds.empty()) {
      listener.address = localAddress(listener.fds.front());
      inherited.listeners.push_back(std::move(listener));
    }
  }
  inherited.admin = fdAt(fds, state.value("admin", nlohmann::json(-1)));
  inherited.admin_listen = state.value("admin_listen", "");
  inherited.keeper = fdAt(fds, state.value("keeper", nlohmann::json(-1)));
  const nlohmann::json backends = state.value("backends", nlohmann::json::object());
  for (const auto& [backend, slots] : backends.items()) {
    for (const auto& slot : slots) {
      inherited.slots[backend].push_back(cluster::HandoverSlot{
          .slot = slot.value("slot", 0u),
          .pid = slot.value("pid", 0),
          .port = slot.value("port", uint16_t{0}),
          .restarts = slot.value("restarts", uint64_t{0}),
          .started_at = std::chrono::system_clock::time_point(
              std::chrono::milliseconds(slot.value("started_ms", int64_t{0}))),
          .out = fdAt(fds, slot.value("out", nlohmann::json(-1))),
          .err = fdAt(fds, slot.value("err", nlohmann::json(-1)))});
    }
  }
  inherited.health = state.value("health", std::map<std::string, std::string>{});
  const nlohmann::json scaled_backends = state.value("scaled", nlohmann::json::object());
  for (const auto& [backend, scaled] : scaled_backends.items()) {
    inherited.scaled[backend] = {scaled.value("file", 0u), scaled.value("instances", 0u)};
  }
  inherited.upgrade = state.value("upgrade", nlohmann::json());
  return inherited;
}

std::vector<proxy::InheritedListener> systemdListeners() {
  const char* pid = std::getenv("LISTEN_PID");
  const char* count = std::getenv("LISTEN_FDS");
  std::vector<proxy::InheritedListener> listeners;
  if (pid == nullptr || count == nullptr || std::atol(pid) != getpid()) {
    return listeners;
  }
  constexpr int kFirst = 3; // SD_LISTEN_FDS_START
  for (int fd = kFirst; fd < kFirst + std::atoi(count); ++fd) {
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    listeners.push_back({.frontend = "", .address = localAddress(fd), .fds = {fd}});
    log::core()->info("socket activation: listening socket {} on {}", fd,
                      listeners.back().address.toString());
  }
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  return listeners;
}

} // namespace corral::control
