#pragma once
// fork + exec of one spawned instance, shared by corral's own ChildProcess (when it forks itself,
// as in the unit tests) and by the keeper process (keeper.h), which is the parent of every clone
// under `corral run`. Everything the child needs is built before fork: the child of a
// multithreaded program may only make async-signal-safe calls.

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "corral/core/error.h"

namespace corral::cluster {

/// What to execute, as plain strings: it crosses the keeper's socket as JSON.
struct ExecSpec {
  std::string program;           // resolved path; empty: not found (execve fails with ENOENT)
  std::string cwd;               // empty: the parent's
  std::vector<std::string> argv;
  std::vector<std::string> envp; // "NAME=value", the whole environment
};

/// The command resolved against PATH and `env` merged over this process's environment.
ExecSpec makeExecSpec(const std::vector<std::string>& command, const std::string& cwd,
                      const std::map<std::string, std::string>& env);

/// The parent's ends of a forked child: its pid and the read ends of its stdout, stderr and exec
/// status pipes (close-on-exec; end of file without data means exec succeeded, an int is the
/// errno it failed with).
struct ForkedChild {
  pid_t pid = -1;
  int out = -1;
  int err = -1;
  int exec_status = -1;
};

/// Forks and execs `spec` in its own process group, with PR_SET_PDEATHSIG tied to the calling
/// thread. `name` is for error messages.
Result<ForkedChild> forkExec(const ExecSpec& spec, const std::string& name);

void closeFd(int& fd);

} // namespace corral::cluster
