#pragma once
// `corral ctl`: a thin client of the admin API (DESIGN.md, Command line). cli.cpp adds the
// subcommand with addCtlCommand() and, when it was chosen, returns ctlCommand(options).

#include <iostream>
#include <ostream>
#include <string>

namespace CLI {
class App;
}

namespace corral::cli {

struct CtlOptions {
  // Where the admin API is: --admin, else admin.listen in --config, else 127.0.0.1:9900.
  std::string admin;
  std::string config_path;
  std::string token_file; // else admin.token_file in --config
  std::string command;    // status drain disable enable weight restart scale logs reload route top
  std::string target;     // BACKEND/SERVER, BACKEND, or BACKEND[#N] for logs
  std::string weight;     // text, so that a bad value gets ctl's own one-line error
  std::string instances;  // scale N, text for the same reason
  std::string client;     // route --client
  std::string cookie;     // route --cookie; empty: none
  std::string key;        // route --key; empty: none
  bool json = false;      // status --json
  bool follow = false;    // logs --follow
  bool once = false;      // top --once
  std::string binary;     // upgrade --binary
  std::string timeout = "30s"; // upgrade --timeout: for the new process to be ready
};

/// Adds `ctl` and its commands to `app`, filling `options` when parsed; returns the `ctl` app,
/// whose parsed() says whether to call ctlCommand.
CLI::App* addCtlCommand(CLI::App& app, CtlOptions& options);

/// Runs one command against the admin API and returns the exit code: 0, or 1 with a one-line
/// error on `err` (unknown name, bad argument, unreachable admin API, refused token).
int ctlCommand(const CtlOptions& options, std::ostream& out = std::cout,
               std::ostream& err = std::cerr);

} // namespace corral::cli
