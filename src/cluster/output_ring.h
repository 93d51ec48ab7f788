#pragma once
// The last lines of one slot, for `ctl logs BACKEND#N`, and the followers of `--follow`.

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <vector>

#include "corral/cluster/supervisor.h"

namespace corral::cluster {

class OutputRing {
public:
  using OnLine = std::function<void(const OutputLine&)>;

  explicit OutputRing(size_t capacity) : capacity_(capacity) {}

  /// Keeps `line` (dropping the oldest beyond capacity) and hands it to every follower.
  void push(OutputLine line);
  std::vector<OutputLine> lines() const { return {lines_.begin(), lines_.end()}; }

  void follow(FollowerId id, OnLine on_line) { followers_[id] = std::move(on_line); }
  /// @return whether `id` followed this ring.
  bool unfollow(FollowerId id) { return followers_.erase(id) > 0; }

private:
  size_t capacity_;
  std::deque<OutputLine> lines_;
  std::map<FollowerId, OnLine> followers_;
};

} // namespace corral::cluster
