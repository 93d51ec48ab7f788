// The `result` label values of corral_health_checks_total: the metrics code exports one series per
// value from startup, so the list must be complete and the names stable.

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "corral/health/health_checker.h"

namespace corral::health {
namespace {

TEST(CheckOutcomeTest, EveryOutcomeHasItsOwnMetricLabel) {
  std::set<std::string> labels;
  for (const CheckOutcome outcome : kCheckOutcomes) {
    labels.emplace(toString(outcome));
  }
  EXPECT_EQ(labels, (std::set<std::string>{"ok", "refused", "timeout", "bad_status", "bad_response",
                                           "error"}));
}

TEST(CheckOutcomeTest, OnlyOkCountsAsASuccess) {
  for (const CheckOutcome outcome : kCheckOutcomes) {
    EXPECT_EQ(CheckResult{.outcome = outcome}.ok(), outcome == CheckOutcome::Ok)
        << toString(outcome);
  }
}

} // namespace
} // namespace corral::health
