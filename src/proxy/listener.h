#pragma once

#include "corral/core/address.h"
#include "corral/core/error.h"

namespace corral::proxy {

/// Opens a non-blocking TCP socket with SO_REUSEPORT, bound to `address` and listening, so that
/// each worker can own one socket of the same address and the kernel spreads connections.
Result<int> openListener(const SocketAddress& address);

/// Fails with "127.0.0.1:8080 is in use by another process" when a plain bind (without
/// SO_REUSEPORT, which would share the port with any process of the same user) is refused.
/// Port 0 always passes.
Result<void> checkNotInUse(const SocketAddress& address);

/// The address a socket is bound to (the real port after binding port 0).
SocketAddress boundAddress(int fd);

} // namespace corral::proxy
