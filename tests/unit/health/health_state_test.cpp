// The rise/fall rules of HealthState, as tables of results and the states they lead to.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "corral/health/health_state.h"

namespace corral::health {
namespace {

using State = HealthState::State;

struct Step {
  bool ok;
  State expected;
};

// Feeds `results` ("+" success, "-" failure) and returns the state after each.
std::vector<State> statesAfter(uint32_t rise, uint32_t fall, const std::string& results) {
  HealthState health(rise, fall);
  std::vector<State> states;
  for (char result : results) {
    health.record(result == '+');
    states.push_back(health.state());
  }
  return states;
}

constexpr State U = State::Unknown;
constexpr State Up = State::Up;
constexpr State D = State::Down;

TEST(HealthStateTest, StartsUnknown) {
  EXPECT_EQ(HealthState(2, 3).state(), State::Unknown);
}

// DESIGN.md: a new server "becomes up after its first successful check", whatever rise says.
TEST(HealthStateTest, OneSuccessBringsAnUnknownServerUp) {
  EXPECT_EQ(statesAfter(5, 3, "+"), (std::vector<State>{Up}));
}

TEST(HealthStateTest, FallFailuresTakeAnUnknownServerDown) {
  EXPECT_EQ(statesAfter(2, 3, "---"), (std::vector<State>{U, U, D}));
}

TEST(HealthStateTest, FallFailuresInARowTakeAnUpServerDown) {
  EXPECT_EQ(statesAfter(2, 3, "+---"), (std::vector<State>{Up, Up, Up, D}));
}

// A success between failures restarts the count: two failures, a success, two failures stay up.
TEST(HealthStateTest, ASuccessRestartsTheFailureCount) {
  EXPECT_EQ(statesAfter(2, 3, "+--+--"), (std::vector<State>{Up, Up, Up, Up, Up, Up}));
}

TEST(HealthStateTest, RiseSuccessesInARowBringADownServerBack) {
  EXPECT_EQ(statesAfter(2, 1, "+-++"), (std::vector<State>{Up, D, D, Up}));
}

TEST(HealthStateTest, AFailureRestartsTheSuccessCountOfADownServer) {
  EXPECT_EQ(statesAfter(3, 1, "-++-+++"), (std::vector<State>{D, D, D, D, D, D, Up}));
}

// A failure from Unknown that falls short of `fall` still lets the next success count as the
// first successful check.
TEST(HealthStateTest, FailuresShortOfFallLeaveAServerUnknownUntilItsFirstSuccess) {
  EXPECT_EQ(statesAfter(3, 3, "--+"), (std::vector<State>{U, U, Up}));
}

TEST(HealthStateTest, RecordSaysWhenTheStateChanged) {
  HealthState health(2, 2);
  const std::vector<Step> steps = {{true, Up}, {false, Up}, {false, D}, {false, D},
                                   {true, D},  {true, Up},  {true, Up}};
  const std::vector<bool> changed = {true, false, true, false, false, true, false};
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(health.record(steps[i].ok), changed[i]) << "step " << i;
    EXPECT_EQ(health.state(), steps[i].expected) << "step " << i;
  }
}

TEST(HealthStateTest, StreakCountsTheResultsThatChangedTheState) {
  HealthState health(4, 3);
  for (int i = 0; i < 3; ++i) {
    health.record(false);
  }
  EXPECT_EQ(health.state(), State::Down);
  EXPECT_EQ(health.streak(), 3u);
  for (int i = 0; i < 4; ++i) {
    health.record(true);
  }
  EXPECT_EQ(health.state(), State::Up);
  EXPECT_EQ(health.streak(), 4u);
}

// Thresholds of 0 would otherwise flip a server on no evidence; they count as 1.
TEST(HealthStateTest, ZeroThresholdsCountAsOne) {
  EXPECT_EQ(statesAfter(0, 0, "+-+"), (std::vector<State>{Up, D, Up}));
}

// A reload with a lower fall applies to the count already in progress.
TEST(HealthStateTest, NewThresholdsApplyToTheCountInProgress) {
  HealthState health(2, 5);
  health.record(true);
  health.record(false);
  health.record(false);
  health.setThresholds(2, 3);
  EXPECT_EQ(health.state(), State::Up);
  EXPECT_TRUE(health.record(false));
  EXPECT_EQ(health.state(), State::Down);
}

TEST(HealthStateTest, StatesHaveTheAdminApiNames) {
  EXPECT_EQ(toString(State::Unknown), "unknown");
  EXPECT_EQ(toString(State::Up), "up");
  EXPECT_EQ(toString(State::Down), "down");
}

} // namespace
} // namespace corral::health
