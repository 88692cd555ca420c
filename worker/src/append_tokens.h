// AppendTokens: the tokens (wire kFlagToken) of the replicated appends this
// worker applied lately, so an append its client sends again after a lost
// answer is not applied twice.
//
// Bounded: the oldest of kCapacity tokens is forgotten first, about half a
// minute of replicated appends at full rate; a retry comes within its
// client's deadline. An entry holds a hash of the id, not the id.
// Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace shovel::worker {

class AppendTokens {
 public:
  static constexpr size_t kCapacity = 1 << 18;

  explicit AppendTokens(size_t capacity = kCapacity) : capacity_(capacity) {}

  // Records that the append with `token` was applied to `id`.
  void Put(std::string_view id, uint64_t token);
  // Whether an append with `token` was applied to `id` (and is remembered).
  bool Has(std::string_view id, uint64_t token) const;

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, size_t> ids_;  // token -> id hash; guarded by mu_
  std::deque<uint64_t> order_;                // tokens, oldest first; guarded by mu_
};

}  // namespace shovel::worker
