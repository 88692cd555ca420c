#include "redirect_cache.h"

namespace shovel::client {

void RedirectCache::SyncGeneration(uint64_t generation) {
  if (generation > generation_) {
    map_.clear();
    generation_ = generation;
  }
}

std::optional<Redirect> RedirectCache::Lookup(std::string_view id, uint64_t generation) {
  if (!used_.load(std::memory_order_acquire)) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  SyncGeneration(generation);
  auto it = map_.find(std::string(id));
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

void RedirectCache::Put(std::string_view id, Redirect r, uint64_t generation) {
  std::lock_guard<std::mutex> lock(mu_);
  SyncGeneration(generation);
  if (generation < generation_) return;  // learned under an older membership
  if (map_.size() >= capacity_) map_.clear();
  map_[std::string(id)] = std::move(r);
  used_.store(true, std::memory_order_release);
}

void RedirectCache::Erase(std::string_view id) {
  std::lock_guard<std::mutex> lock(mu_);
  map_.erase(std::string(id));
}

size_t RedirectCache::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return map_.size();
}

}  // namespace shovel::client
