// Tombstones: the version at which each recently deleted id was deleted, so
// an older copy of it (a replica that missed the delete, a hand-over from a
// worker that held it before) does not bring it back.
//
// Bounded: the oldest of kCapacity entries is forgotten first (a delete
// older than that many deletes may then be undone by a stale copy).
// Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace shovel::worker {

class Tombstones {
 public:
  static constexpr size_t kCapacity = 1 << 16;

  void Put(std::string_view id, uint64_t version) {
    std::lock_guard<std::mutex> l(mu_);
    auto [it, fresh] = map_.try_emplace(std::string(id), version);
    if (!fresh) {
      if (version > it->second) it->second = version;
      return;
    }
    order_.push_back(it->first);
    if (order_.size() > kCapacity) {
      map_.erase(order_.front());
      order_.pop_front();
    }
  }
  // The version the id was deleted at, 0 when none is remembered.
  uint64_t Get(std::string_view id) const {
    std::lock_guard<std::mutex> l(mu_);
    auto it = map_.find(std::string(id));
    return it == map_.end() ? 0 : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, uint64_t> map_;  // guarded by mu_
  std::deque<std::string> order_;                  // guarded by mu_
};

}  // namespace shovel::worker
