#include "decoded_cache.h"

#include <algorithm>

namespace shovel::worker {
namespace {

// The same chunk object: same control block (a weak_ptr keeps it allocated,
// so an address reused by a newer chunk never matches).
bool SameOwner(const std::weak_ptr<Chunk>& a, const std::shared_ptr<Chunk>& b) {
  return !a.owner_before(b) && !b.owner_before(a);
}

}  // namespace

Slice DecodedCache::Find(const std::shared_ptr<Chunk>& chunk) {
  if (entries_.load(std::memory_order_relaxed) == 0) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return {};
  }
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(chunk.get());
  if (it == map_.end() || !SameOwner(it->second.chunk, chunk)) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return {};
  }
  Node& n = it->second;
  if (n.probation) {
    main_.splice(main_.begin(), probation_, n.pos);
    n.probation = false;
  } else {
    main_.splice(main_.begin(), main_, n.pos);
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  return n.bytes;
}

bool DecodedCache::Contains(const Chunk* chunk) const {
  if (entries_.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(chunk);
  return it != map_.end() && !it->second.chunk.expired();
}

bool DecodedCache::AdmitMiss(const Chunk* chunk, uint64_t bytes) {
  const uint64_t charge = bytes + kEntryOverhead;
  std::lock_guard<std::mutex> l(mu_);
  if (bytes_.load(std::memory_order_relaxed) + charge <=
      capacity_.load(std::memory_order_relaxed)) {
    return true;
  }
  if (ghosts_.count(chunk) > 0) return true;  // missed recently: read again
  const size_t limit = std::max<size_t>(kMinGhosts, map_.size() / 2);
  ghost_order_.push_back(chunk);
  ++ghosts_[chunk];
  while (ghost_order_.size() > limit) {
    auto it = ghosts_.find(ghost_order_.front());
    if (--it->second == 0) ghosts_.erase(it);
    ghost_order_.pop_front();
  }
  return false;
}

DecodedCache::Inserted DecodedCache::Insert(const std::shared_ptr<Chunk>& chunk,
                                            Slice bytes, bool probation) {
  Inserted out;
  const uint64_t charge = bytes.size + kEntryOverhead;
  std::lock_guard<std::mutex> l(mu_);
  const uint64_t cap = capacity_.load(std::memory_order_relaxed);
  if (charge > cap) return out;
  auto found = map_.find(chunk.get());
  if (found != map_.end()) {
    if (SameOwner(found->second.chunk, chunk)) return out;
    out.freed += EraseLocked(found);  // a dead chunk's address, reused
  }
  while (bytes_.load(std::memory_order_relaxed) + charge > cap) {
    uint64_t f = EvictOneLocked(probation);
    if (f == 0) return out;  // (what was freed stays freed)
    out.freed += f;
  }
  auto& list = probation ? probation_ : main_;
  list.push_front(chunk.get());
  Node n;
  n.chunk = chunk;
  n.bytes = std::move(bytes);
  n.charge = charge;
  n.probation = probation;
  n.pos = list.begin();
  map_.emplace(chunk.get(), std::move(n));
  bytes_.fetch_add(charge, std::memory_order_relaxed);
  entries_.fetch_add(1, std::memory_order_relaxed);
  inserts_.fetch_add(1, std::memory_order_relaxed);
  out.inserted = true;
  return out;
}

uint64_t DecodedCache::Remove(std::span<const ChunkRef> chunks) {
  if (entries_.load(std::memory_order_relaxed) == 0) return 0;
  uint64_t freed = 0;
  std::lock_guard<std::mutex> l(mu_);
  for (const ChunkRef& r : chunks) {
    if (!r.chunk->compressed) continue;
    auto it = map_.find(r.chunk.get());
    if (it == map_.end()) continue;
    freed += EraseLocked(it);
    invalidations_.fetch_add(1, std::memory_order_relaxed);
  }
  return freed;
}

uint64_t DecodedCache::Shrink(uint64_t bytes) {
  if (entries_.load(std::memory_order_relaxed) == 0) return 0;
  uint64_t freed = 0;
  std::lock_guard<std::mutex> l(mu_);
  while (freed < bytes) {
    uint64_t f = EvictOneLocked(false);
    if (f == 0) break;
    freed += f;
  }
  return freed;
}

uint64_t DecodedCache::SetCapacity(uint64_t capacity) {
  capacity_.store(capacity, std::memory_order_relaxed);
  uint64_t freed = 0;
  std::lock_guard<std::mutex> l(mu_);
  while (bytes_.load(std::memory_order_relaxed) > capacity) {
    uint64_t f = EvictOneLocked(false);
    if (f == 0) break;
    freed += f;
  }
  return freed;
}

DecodedCacheStats DecodedCache::Stats() const {
  DecodedCacheStats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.inserts = inserts_.load(std::memory_order_relaxed);
  s.evictions = evictions_.load(std::memory_order_relaxed);
  s.invalidations = invalidations_.load(std::memory_order_relaxed);
  s.bytes = bytes_.load(std::memory_order_relaxed);
  s.entries = entries_.load(std::memory_order_relaxed);
  s.capacity = capacity_.load(std::memory_order_relaxed);
  return s;
}

uint64_t DecodedCache::EraseLocked(Map::iterator it) {
  Node& n = it->second;
  (n.probation ? probation_ : main_).erase(n.pos);
  const uint64_t charge = n.charge;
  map_.erase(it);
  bytes_.fetch_sub(charge, std::memory_order_relaxed);
  entries_.fetch_sub(1, std::memory_order_relaxed);
  return charge;
}

uint64_t DecodedCache::EvictOneLocked(bool probation_only) {
  auto* list = &probation_;
  if (list->empty()) {
    if (probation_only) return 0;
    list = &main_;
  }
  if (list->empty()) return 0;
  auto it = map_.find(list->back());
  evictions_.fetch_add(1, std::memory_order_relaxed);
  return EraseLocked(it);
}

}  // namespace shovel::worker
