#include "corral/health/health_state.h"

#include <algorithm>

namespace corral::health {

HealthState::HealthState(uint32_t rise, uint32_t fall)
    : rise_(std::max(rise, 1u)), fall_(std::max(fall, 1u)) {}

void HealthState::setThresholds(uint32_t rise, uint32_t fall) {
  rise_ = std::max(rise, 1u);
  fall_ = std::max(fall, 1u);
}

bool HealthState::record(bool ok) {
  streak_ = (ok == last_ok_) ? streak_ + 1 : 1;
  last_ok_ = ok;
  const State before = state_;
  if (ok && state_ == State::Unknown) {
    state_ = State::Up;
  } else if (ok && state_ == State::Down && streak_ >= rise_) {
    state_ = State::Up;
  } else if (!ok && state_ != State::Down && streak_ >= fall_) {
    state_ = State::Down;
  }
  return state_ != before;
}

std::string_view toString(HealthState::State state) {
  switch (state) {
  case HealthState::State::Unknown:
    return "unknown";
  case HealthState::State::Up:
    return "up";
  case HealthState::State::Down:
    return "down";
  }
  return "unknown";
}

} // namespace corral::health
