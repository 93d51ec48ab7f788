#pragma once
// What a new corral process takes over (docs/architecture.md, "Upgrading corral"): from the
// corral it upgrades (`ctl upgrade`, SIGUSR2), over the unix socket named by CORRAL_UPGRADE_FD,
// or listening sockets from systemd (LISTEN_FDS).
//
// Handover socket (SOCK_SEQPACKET, cluster/unix_message.h), new → old unless said otherwise:
//   {"hello": PID}                      the configuration loaded; send the state
//   old → new: the state (JSON below), then {"fds": N} messages carrying its descriptors
//   {"ready": PID, "version": V}        listening, instances adopted: the old one drains and exits
//   {"error": TEXT}                     giving up; the old one keeps serving
// A new process that closes the socket or is not ready by the deadline has failed too.

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corral/cluster/supervisor.h"
#include "corral/proxy/proxy.h"

namespace corral::control {

struct Inherited {
  std::vector<proxy::InheritedListener> listeners;
  int admin = -1;           // the admin API's listening socket
  std::string admin_listen; // the admin.listen it was bound for, as written
  int keeper = -1;          // the keeper's socket (cluster/keeper.h)
  std::map<std::string, std::vector<cluster::HandoverSlot>> slots; // by backend
  std::map<std::string, std::string> health; // "app/app#0" → "up" | "down"
  // `ctl scale` counts in force: backend → {the file's spawn.instances then, the count}
  std::map<std::string, std::pair<uint32_t, uint32_t>> scaled;
  nlohmann::json upgrade;   // the upgrade's record for upgradeStatus(); null without one
};

/// The environment variable that tells `corral run` it is the new process of an upgrade.
inline constexpr const char* kUpgradeFdVariable = "CORRAL_UPGRADE_FD";

/// Sends `state` and `fds` (numbered in `state` by their index) over the handover socket.
Result<void> sendState(int socket, nlohmann::json state, const std::vector<int>& fds);
/// Receives what sendState sent: the state and its descriptors.
Result<std::pair<nlohmann::json, std::vector<int>>> receiveState(int socket);
/// The state as Inherited, taking the descriptors.
Inherited inheritedFrom(const nlohmann::json& state, const std::vector<int>& fds);

/// systemd socket activation: the sockets of LISTEN_FDS when LISTEN_PID is this process (then
/// the variables are removed, so that no child takes them for its own).
std::vector<proxy::InheritedListener> systemdListeners();

} // namespace corral::control
