// Internals shared by the store's .cc files: shards, entries and uploads.
#pragma once

#include <list>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "chunk.h"
#include "shovel/worker/store.h"

namespace shovel::worker {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

struct Entry;
using EntryMap = std::unordered_map<std::string, Entry, StringHash, std::equal_to<>>;
using EntryNode = EntryMap::value_type;

struct Entry {
  std::shared_ptr<const Blob> blob;
  int64_t atime_ns = 0;
  uint64_t tick = 0;                    // LRU clock at last use
  std::list<EntryNode*>::iterator lru;  // valid iff in_lru
  bool in_lru = false;
  // The id is in Store::bg_queue_: a write of deferred chunks does not queue
  // it again (one queue entry per id, not one per write).
  bool queued = false;
};

// One of Store::kShards partitions of the id space. All fields guarded by mu.
struct Shard {
  std::mutex mu;
  EntryMap map;
  std::list<EntryNode*> lru;  // unpinned entries, front = most recent
  std::unordered_map<std::string, Pointer, StringHash, std::equal_to<>> pointers;
};

// A streamed write in progress. Fields guarded by mu (one request at a time
// per upload; the server also routes one handle to one thread).
struct Upload {
  std::mutex mu;
  std::string id;
  bool append = false;
  WriteOptions opt;
  std::vector<ChunkRef> chunks;
  std::string tail;       // raw bytes not yet a full chunk
  uint64_t received = 0;  // bytes so far
  uint64_t reserved = 0;  // bytes counted in Store::used_
  int64_t last_ns = 0;
  bool done = false;
};

inline bool HasDeferred(std::span<const ChunkRef> refs) {
  for (const auto& r : refs) {
    if (r.chunk->deferred.load(std::memory_order_relaxed)) return true;
  }
  return false;
}
inline bool HasDeferred(const Blob& b) { return HasDeferred(b.chunks); }

}  // namespace shovel::worker
