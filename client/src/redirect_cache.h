// RedirectCache: remembers where pinned ids live (id -> holder endpoint), as
// learned from kRedirect replies, so later requests skip the hop.
//
// Entries belong to one membership generation: a lookup or insert with a
// newer generation drops everything first (membership changed, pointers may
// be stale). Bounded: when full, the cache is cleared (entries are cheap to
// learn again). Thread-safe (one mutex, held only for map operations).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace shovel::client {

struct Redirect {
  std::string endpoint;
  std::string node_id;
};

class RedirectCache {
 public:
  explicit RedirectCache(size_t capacity = 1 << 20) : capacity_(capacity) {}
  std::optional<Redirect> Lookup(std::string_view id, uint64_t generation);
  void Put(std::string_view id, Redirect r, uint64_t generation);
  void Erase(std::string_view id);
  size_t size();

 private:
  void SyncGeneration(uint64_t generation);  // requires mu_

  const size_t capacity_;
  std::mutex mu_;
  uint64_t generation_ = 0;                        // guarded by mu_
  std::unordered_map<std::string, Redirect> map_;  // guarded by mu_
  // False until the first Put: most clients never see a redirect, and their
  // lookups then take no lock and build no key.
  std::atomic<bool> used_{false};
};

}  // namespace shovel::client
