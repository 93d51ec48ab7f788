#include "corral/cli/cli.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "commands.h"
#include "ctl.h"
#include "corral/core/log.h"

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "0.0.0"
#endif

namespace corral::cli {

int main(int argc, char** argv) {
  CLI::App app{"corral: a layer-4 load balancer with sticky sessions"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  RunOptions run_options;
  auto* run = app.add_subcommand("run", "run in the foreground");
  run->add_option("-c,--config", run_options.config_path, "configuration file")->required();
  run->add_option("--ready-file", run_options.ready_file,
                  "write the bound addresses as JSON to this file once listening");
  run->add_option("--log-level", log_level, "trace, debug, info, warn, error or off");

  std::string check_path;
  auto* check = app.add_subcommand("check", "validate a configuration file");
  check->add_option("-c,--config", check_path, "configuration file")->required();

  CtlOptions ctl_options;
  CLI::App* ctl = addCtlCommand(app, ctl_options);

  app.add_subcommand("version", "print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error); // prints help or the error
    return code == 0 ? 0 : 1;
  }
  log::init(spdlog::level::from_str(log_level));
  if (run->parsed()) {
    return runCommand(run_options);
  }
  if (check->parsed()) {
    return checkCommand(check_path);
  }
  if (ctl->parsed()) {
    return ctlCommand(ctl_options);
  }
  fmt::print("corral {}\n", CORRAL_VERSION);
  return 0;
}

} // namespace corral::cli
