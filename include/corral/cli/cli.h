#pragma once
// The command line: `corral run|check|ctl|version` (DESIGN.md, Command line).

namespace corral::cli {

/// Parses argv, runs the chosen command and returns the process exit code.
int main(int argc, char** argv);

} // namespace corral::cli
