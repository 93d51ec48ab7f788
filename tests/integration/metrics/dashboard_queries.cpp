#include "tests/integration/metrics/dashboard_queries.h"

#include <algorithm>
#include <utility>

namespace corral::test {
namespace {

using Replacements = std::vector<std::pair<std::string, std::string>>;

void replaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// Longest names first, so that $instance is not replaced inside $instance_name.
Replacements variableValues(const nlohmann::json& dashboard) {
  Replacements values = {{"__rate_interval", "1m"}, {"__interval", "1m"}, {"__range", "1m"}};
  for (const auto& variable : dashboard.value(nlohmann::json::json_pointer("/templating/list"), nlohmann::json::array())) {
    const auto all = variable.find("allValue");
    values.emplace_back(variable.at("name").get<std::string>(),
                        all != variable.end() && all->is_string() ? all->get<std::string>() : ".*");
  }
  std::ranges::sort(values, [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  return values;
}

std::string substitute(std::string expr, const Replacements& values) {
  for (const auto& [name, value] : values) {
    replaceAll(expr, "${" + name + "}", value);
    replaceAll(expr, "[[" + name + "]]", value);
    replaceAll(expr, "$" + name, value);
  }
  return expr;
}

void collect(const nlohmann::json& panels, const Replacements& values,
             std::vector<DashboardQuery>& queries) {
  for (const auto& panel : panels) {
    for (const auto& target : panel.value("targets", nlohmann::json::array())) {
      if (target.contains("expr")) {
        queries.push_back({.panel = panel.value("title", ""),
                           .expr = substitute(target["expr"].get<std::string>(), values)});
      }
    }
    collect(panel.value("panels", nlohmann::json::array()), values, queries);
  }
}

} // namespace

std::vector<DashboardQuery> dashboardQueries(const nlohmann::json& dashboard) {
  std::vector<DashboardQuery> queries;
  collect(dashboard.value("panels", nlohmann::json::array()), variableValues(dashboard), queries);
  return queries;
}

} // namespace corral::test
