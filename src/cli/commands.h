#pragma once
// One function per subcommand; cli.cpp parses the arguments and calls them.

#include <string>

namespace corral::cli {

struct RunOptions {
  std::string config_path;
  std::string ready_file; // written once every listener is bound (tests, scripts)
};

int runCommand(const RunOptions& options);
int checkCommand(const std::string& config_path);

} // namespace corral::cli
