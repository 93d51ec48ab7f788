#pragma once
// The up/down state of one server as seen by its active health checks (DESIGN.md: health_check
// rise/fall). Pure: it counts results and knows no clock, socket or logger, so the checker, the
// admin API and the tests all agree on one set of rules.

#include <cstdint>
#include <string_view>

namespace corral::health {

class HealthState {
public:
  enum class State { Unknown, Up, Down };

  /// `rise` successes in a row bring a Down server back; `fall` failures in a row take an Up (or
  /// Unknown) server down. A threshold of 0 counts as 1.
  HealthState(uint32_t rise, uint32_t fall);

  /// Records one check result and returns whether the state changed. The rules:
  ///   Unknown --1 success--> Up       (a new server serves as soon as it answers once)
  ///   Unknown --fall failures--> Down
  ///   Up      --fall failures in a row--> Down
  ///   Down    --rise successes in a row--> Up
  /// A result of the other kind restarts the count.
  bool record(bool ok);

  /// New thresholds from a reload; the current state and the count in progress are kept.
  void setThresholds(uint32_t rise, uint32_t fall);

  State state() const { return state_; }
  /// Results of the latest kind in a row: the number of failures that took a server down, or of
  /// successes that brought it up.
  uint32_t streak() const { return streak_; }

private:
  State state_ = State::Unknown;
  uint32_t rise_;
  uint32_t fall_;
  bool last_ok_ = false;
  uint32_t streak_ = 0;
};

/// "unknown", "up" or "down": the words of the admin API and the logs.
std::string_view toString(HealthState::State state);

} // namespace corral::health
