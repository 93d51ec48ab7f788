#include "cluster/output_ring.h"

namespace corral::cluster {

// A follower may unfollow (its client went away) from inside its callback, so the ids are copied
// first and each is looked up again before the call.
void OutputRing::push(OutputLine line) {
  if (capacity_ == 0) {
    return;
  }
  if (lines_.size() == capacity_) {
    lines_.pop_front();
  }
  const OutputLine& kept = lines_.emplace_back(std::move(line));
  std::vector<FollowerId> ids;
  ids.reserve(followers_.size());
  for (const auto& [id, on_line] : followers_) {
    ids.push_back(id);
  }
  for (FollowerId id : ids) {
    if (auto it = followers_.find(id); it != followers_.end()) {
      auto on_line = it->second; // survives an unfollow during the call
      on_line(kept);
    }
  }
}

} // namespace corral::cluster
