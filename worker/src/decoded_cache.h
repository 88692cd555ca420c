// DecodedCache: the raw bytes of recently read compressed chunks, so a read
// that hits serves a zero-copy slice instead of running zstd (the second
// tier of CacheLib's two: decoded bytes in front of compressed ones).
//
// Entries are keyed by chunk identity: a compressed Chunk never changes, and
// an entry matches only the very chunk object it was made from (its
// shared_ptr's owner), so a value rewritten by any path can never be served
// from an older entry, even one not yet dropped. The store also drops the
// entries of a blob's chunks whenever it replaces or removes that blob, so
// the cache holds only chunks of current blobs.
//
// Two segments, evicted in this order: `probation` (chunks admitted without
// being read: the raw bytes the background compressor replaced) and `main`
// (chunks read). Each is LRU; a hit in probation moves the entry to main.
// An admission to probation evicts only probation entries, so data written
// and never read cannot push out what is being read.
//
// Scans: a read of a whole chunk that misses is admitted (the store asks
// AdmitMiss) only when it fits without evicting
// anything, or when the same chunk missed recently (among the last misses,
// at most half as many as the cache holds entries, and at least
// kMinGhosts): a chunk read again soon, not a pass over more data than the
// cache holds. A loop over such a working set then keeps hitting the part
// it holds (capacity / working set of the reads) where an LRU admitting
// every miss would evict each entry before its next read and hit nothing.
//
// Memory: each entry charges its bytes plus kEntryOverhead (which also
// covers the remembered misses, at most one per two entries beyond
// kMinGhosts). The cache keeps
// its total under capacity(); the caller charges the same bytes to the
// store's limit (Insert/Remove/Shrink return what they freed).
//
// Thread-safety: every method may be called from any thread. One mutex, a
// leaf: the store calls in while holding a shard lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>

#include "chunk.h"
#include "shovel/worker/store.h"

namespace shovel::worker {

struct DecodedCacheStats {
  uint64_t hits = 0, misses = 0;    // Find calls
  uint64_t inserts = 0;             // entries made
  uint64_t evictions = 0;           // entries dropped for room or by Shrink
  uint64_t invalidations = 0;       // entries dropped because their blob changed
  uint64_t bytes = 0, entries = 0;  // held now (bytes with overhead)
  uint64_t capacity = 0;
};

class DecodedCache {
 public:
  static constexpr uint64_t kEntryOverhead = 160;  // entry, map node, list node
  // Chunks below this decompress about as fast as they are looked up: the
  // store does not cache them.
  static constexpr uint64_t kMinBytes = 16 << 10;

  explicit DecodedCache(uint64_t capacity = 0) : capacity_(capacity) {}
  DecodedCache(const DecodedCache&) = delete;
  DecodedCache& operator=(const DecodedCache&) = delete;

  // The raw bytes of `chunk` (all of them, `size` long), or an empty Slice.
  // A hit moves the entry to the front of main. Counts a hit or a miss.
  Slice Find(const std::shared_ptr<Chunk>& chunk);
  // True when Find(chunk) would hit; counts nothing, moves nothing.
  bool Contains(const Chunk* chunk) const;

  static constexpr size_t kMinGhosts = 16;
  // A read missed `chunk`, `bytes` long: whether to admit its decoded bytes
  // (Insert with probation false). Yes when they fit now without evicting,
  // or when `chunk` missed recently; otherwise remembers the miss (it may
  // be admitted next time) and says no.
  bool AdmitMiss(const Chunk* chunk, uint64_t bytes);

  struct Inserted {
    bool inserted = false;
    uint64_t freed = 0;  // bytes (with overhead) of entries evicted for room
  };
  // Adds `bytes` as the raw bytes of `chunk`, evicting LRU entries to stay
  // under capacity (from probation only when `probation`). Not inserted
  // (nothing freed) when the chunk is already held or the entry cannot fit.
  Inserted Insert(const std::shared_ptr<Chunk>& chunk, Slice bytes, bool probation);
  // Drops the entries of these chunks (a blob that changed); returns the
  // bytes freed. Cheap when none is held.
  uint64_t Remove(std::span<const ChunkRef> chunks);
  // Evicts LRU entries (probation first) until `bytes` are freed or the
  // cache is empty; returns what was freed.
  uint64_t Shrink(uint64_t bytes);
  // Sets the capacity; returns the bytes evicted to get under it.
  uint64_t SetCapacity(uint64_t capacity);

  uint64_t capacity() const { return capacity_.load(std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  DecodedCacheStats Stats() const;

 private:
  struct Node {
    std::weak_ptr<Chunk> chunk;  // identity (owner) of the chunk decoded
    Slice bytes;
    uint64_t charge = 0;
    bool probation = false;
    std::list<const Chunk*>::iterator pos;
  };
  using Map = std::unordered_map<const Chunk*, Node>;

  // Drops `it`; returns its charge. Caller holds mu_.
  uint64_t EraseLocked(Map::iterator it);
  // Evicts the LRU entry of probation, else (unless `probation_only`) of
  // main; returns its charge, 0 when there is none. Caller holds mu_.
  uint64_t EvictOneLocked(bool probation_only);

  mutable std::mutex mu_;
  Map map_;                            // guarded by mu_
  std::list<const Chunk*> main_;       // guarded by mu_; front = most recent
  std::list<const Chunk*> probation_;  // guarded by mu_; front = most recent
  // Chunks that missed and were not admitted, oldest first (identity only:
  // an address reused by a newer chunk just gets admitted a miss early).
  std::deque<const Chunk*> ghost_order_;               // guarded by mu_
  std::unordered_map<const Chunk*, uint32_t> ghosts_;  // guarded by mu_: count in order
  std::atomic<uint64_t> capacity_;
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> entries_{0};
  std::atomic<uint64_t> hits_{0}, misses_{0}, inserts_{0}, evictions_{0},
      invalidations_{0};
};

}  // namespace shovel::worker
