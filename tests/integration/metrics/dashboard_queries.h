#pragma once
// The PromQL of a Grafana dashboard, ready for Prometheus's HTTP API: every panel target's `expr`,
// with Grafana's variables replaced the way Grafana would with "All" selected.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace corral::test {

struct DashboardQuery {
  std::string panel; // the panel's title, for messages
  std::string expr;  // with variables replaced
};

/// Walks `panels` (and the panels nested in collapsed rows). Grafana's range variables
/// ($__rate_interval, $__interval, $__range) become 1m; a templating variable becomes its
/// `allValue`, or ".*" without one. `$var`, `${var}` and `[[var]]` are all replaced.
std::vector<DashboardQuery> dashboardQueries(const nlohmann::json& dashboard);

} // namespace corral::test
