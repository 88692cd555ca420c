#include "append_tokens.h"

#include <functional>

namespace shovel::worker {

void AppendTokens::Put(std::string_view id, uint64_t token) {
  if (token == 0) return;
  const size_t hash = std::hash<std::string_view>{}(id);
  std::lock_guard<std::mutex> l(mu_);
  auto [it, fresh] = ids_.try_emplace(token, hash);
  if (!fresh) {
    it->second = hash;
    return;
  }
  order_.push_back(token);
  if (order_.size() > capacity_) {
    ids_.erase(order_.front());
    order_.pop_front();
  }
}

bool AppendTokens::Has(std::string_view id, uint64_t token) const {
  if (token == 0) return false;
  const size_t hash = std::hash<std::string_view>{}(id);
  std::lock_guard<std::mutex> l(mu_);
  auto it = ids_.find(token);
  return it != ids_.end() && it->second == hash;
}

}  // namespace shovel::worker
