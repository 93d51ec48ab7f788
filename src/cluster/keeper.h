#pragma once
// The keeper: the parent of every spawned instance under `corral run` (docs/architecture.md,
// "Upgrading corral"). A clone's PR_SET_PDEATHSIG fires when the thread that forked it ends, so
// a clone forked by corral could not outlive one corral process and still die with corral. The
// keeper is a small single-threaded process forked by `corral run` before any thread starts; it
// forks and execs instances on request, passes back their pid and pipes, and reports each exit.
// It serves as long as any corral holds the other end of its socket: an upgrade passes that end
// to the new corral. When the last holder is gone (corral was killed outright), it stops every
// instance (SIGTERM, SIGKILL after the longest stop_timeout) and exits.
//
// Protocol (SOCK_SEQPACKET, one JSON object per message, cluster/unix_message.h):
//   corral → keeper  {"spawn": NAME, "program", "cwd", "argv", "envp", "stop_ms"}
//   keeper → corral  {"pid": N} with the read ends of stdout, stderr, exec status; or {"error"}
//   keeper → corral  {"exit": PID, "status": WAIT_STATUS} once an instance has been reaped

#include <sys/types.h>

#include "corral/core/error.h"

namespace corral::cluster {

/// Forks the keeper; returns corral's end of its socket (close-on-exec). Call while this process
/// has a single thread.
Result<int> startKeeper();

/// Makes every ChildReaper created from now on spawn and reap through the keeper at `socket`
/// instead of forking itself. -1 turns it off (the default: unit tests fork directly).
void useKeeper(int socket);
int keeperSocket();

} // namespace corral::cluster
