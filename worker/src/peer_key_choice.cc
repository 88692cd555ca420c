#include "peer_key_choice.h"

#include <algorithm>

namespace shovel::worker {

void PeerKeyChoice::SetKnown(const std::string& endpoint, const std::string& key) {
  if (key.empty()) {
    known_.erase(endpoint);
  } else {
    known_[endpoint] = key;
  }
}

std::string PeerKeyChoice::Key(const std::string& endpoint) {
  if (auto it = known_.find(endpoint); it != known_.end()) return it->second;
  if (list_.empty()) return own_;
  std::string& chosen = chosen_[endpoint];
  if (std::find(list_.begin(), list_.end(), chosen) == list_.end()) {
    chosen = list_.front();
  }
  return chosen;
}

bool PeerKeyChoice::Rejected(const std::string& endpoint, const std::string& rejected) {
  const std::string now = Key(endpoint);
  if (now != rejected) return true;
  if (known_.count(endpoint) || list_.size() < 2) return false;
  auto it = std::find(list_.begin(), list_.end(), now);
  size_t next = it == list_.end() ? 0 : (it - list_.begin() + 1) % list_.size();
  chosen_[endpoint] = list_[next];
  return list_[next] != rejected;
}

}  // namespace shovel::worker
