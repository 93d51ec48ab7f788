#pragma once

#include "corral/health/health_checker.h"
#include "corral/metrics/control_metrics.h"

namespace corral::control {

/// The `result` label of corral_health_checks_total for one check.
metrics::HealthCheckResult metricsResult(const health::CheckResult& result);

} // namespace corral::control
