#pragma once
// Checks across sections of a Config whose sections each read cleanly on their own (private to
// config/): names that refer to each other, repeated names, addresses bound twice.

#include "corral/config/config.h"

#include "config/diagnostics.h"

namespace corral::config {

/// Reports every problem to `diagnostics`, at the position remembered for its key path.
void validate(const Config& config, Diagnostics& diagnostics);

} // namespace corral::config
