#pragma once

#include "corral/core/address.h"
#include "corral/core/error.h"

namespace corral::proxy {

/// Opens a non-blocking TCP socket with SO_REUSEPORT, bound to `address` and listening, so that
/// each worker can own one socket of the same address and the kernel spreads connections.
Result<int> openListener(const SocketAddress& address);

/// The address a socket is bound to (the real port after binding port 0).
SocketAddress boundAddress(int fd);

} // namespace corral::proxy
