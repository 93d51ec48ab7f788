#include "corral/cli/cli.h"

int main(int argc, char** argv) { return corral::cli::main(argc, argv); }
