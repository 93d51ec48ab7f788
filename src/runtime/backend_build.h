#pragma once
// The parts of a runtime::Backend that take work to build: the Maglev table and the cookie signer.

#include "corral/runtime/snapshot.h"

namespace corral::runtime {

/// Builds backend.maglev when the backend places clients by ip_hash, from the servers' effective
/// weights now (runtime/placement.h).
Result<void> buildMaglev(Backend& backend);

/// Builds backend.cookie_signer for sticky_cookie backends. The key is the first line of
/// `secret_file`; a second line, when present, is the previous key, still accepted so that keys
/// rotate without moving clients. A file readable by group or others is refused. Without a
/// secret_file the previous snapshot's random key is kept, so a reload does not move clients.
Result<void> buildCookieSigner(Backend& backend, const Backend* previous);

} // namespace corral::runtime
