#pragma once
// `corral ctl top`: the status page's view in a terminal, like `pm2 monit` or htop. It reads the
// same JSON as the page (GET /api/v1/status and /api/v1/history) once a second.

#include <ostream>

#include "corral/core/error.h"
#include "ctl_client.h"

namespace corral::cli {

struct TopOptions {
  bool once = false;   // one frame, no screen control: for scripts and logs
  bool colour = false; // ANSI colours for the states
};

/// Until `q` (or Ctrl-C) on a terminal; with `once`, prints one frame and returns.
Result<void> runTop(const AdminClient& client, const TopOptions& options, std::ostream& out);

} // namespace corral::cli
