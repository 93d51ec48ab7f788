#pragma once
// One message on a SOCK_SEQPACKET unix socket: a text (JSON) and up to kMaxFds descriptors passed
// with SCM_RIGHTS. The keeper socket (keeper.h) and the upgrade handover use it.

#include <string>
#include <vector>

#include "corral/core/error.h"

namespace corral::cluster {

constexpr size_t kMaxFds = 250;          // the kernel takes at most 253 per message
constexpr size_t kMaxMessage = 1 << 20;  // bytes of text

struct UnixMessage {
  std::string text;
  std::vector<int> fds; // received descriptors are close-on-exec and owned by the receiver
};

/// Sends `text` with `fds` (which stay open here). Blocks until the kernel takes it.
Result<void> sendMessage(int socket, const std::string& text, const std::vector<int>& fds = {});

/// Receives one message. `wait`: block until one comes; else ErrorCode::Unavailable when none is
/// queued. End of file (every peer closed) is ErrorCode::NotFound.
Result<UnixMessage> receiveMessage(int socket, bool wait);

} // namespace corral::cluster
