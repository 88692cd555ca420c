// Internals shared by the store's .cc files: shards, entries and uploads.
#pragma once

#include <list>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "chunk.h"
#include "shovel/worker/store.h"

namespace shovel::worker {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

struct Entry;
using EntryNode = std::pair<const std::string, Entry>;

struct Entry {
  std::shared_ptr<const Blob> blob;
  int64_t atime_ns = 0;
  uint64_t tick = 0;                    // LRU clock at last use
  std::list<EntryNode*>::iterator lru;  // valid iff in_lru
  bool in_lru = false;
  // The id is in Store::bg_queue_: a write of deferred chunks does not queue
  // it again (one queue entry per id, not one per write).
  bool queued = false;
  // The decoded cache may hold chunks of `blob`: a change drops them.
  bool decoded = false;
};

// A shard's ids: open addressing over (hash, node) slots with linear probing,
// at most half full, erasing by backward shift (no tombstones). Each node is
// allocated on its own and never moves, so the LRU list and callers may hold
// pointers to it until it is erased. A hit reads the slot (16 bytes) and the
// node: std::unordered_map read the bucket, the node before the bucket's first
// and the node, about three cache misses in a large store. Not thread-safe
// (guarded by Shard::mu).
class IdTable {
 public:
  IdTable() = default;
  ~IdTable();
  IdTable(const IdTable&) = delete;
  IdTable& operator=(const IdTable&) = delete;

  // The node of `id`, or nullptr.
  EntryNode* Find(std::string_view id) const;
  // The node of `id`, made with a default Entry if missing (second: made).
  std::pair<EntryNode*, bool> Emplace(std::string_view id);
  // Removes and frees `node`, a node of this table.
  void Erase(EntryNode* node);
  size_t size() const { return size_; }
  // Calls f(const EntryNode&) for every node, in no particular order.
  template <class F>
  void ForEach(F f) const {
    if (size_ == 0) return;
    for (size_t i = 0; i <= Mask(); ++i) {
      if (slots_[i].node != nullptr) f(*slots_[i].node);
    }
  }
  size_t capacity() const { return bits_ == 0 ? 0 : size_t{1} << bits_; }

 private:
  struct Slot {
    uint64_t hash = 0;
    EntryNode* node = nullptr;  // nullptr: empty
  };
  static uint64_t Hash(std::string_view id) { return StringHash()(id); }
  // Fibonacci hashing from the high bits: Store::ShardIndex already used the
  // hash's low bits, which are the same for every id of a shard.
  size_t Home(uint64_t hash) const {
    return static_cast<size_t>((hash * 0x9E3779B97F4A7C15ull) >> (64 - bits_));
  }
  size_t Mask() const { return (size_t{1} << bits_) - 1; }
  void Grow();

  std::unique_ptr<Slot[]> slots_;
  int bits_ = 0;  // capacity 2^bits_ (0: no slots yet)
  size_t size_ = 0;
};

inline IdTable::~IdTable() {
  if (size_ == 0) return;
  for (size_t i = 0; i <= Mask(); ++i) delete slots_[i].node;
}

inline EntryNode* IdTable::Find(std::string_view id) const {
  if (size_ == 0) return nullptr;
  uint64_t h = Hash(id);
  for (size_t i = Home(h);; i = (i + 1) & Mask()) {
    const Slot& s = slots_[i];
    if (s.node == nullptr) return nullptr;
    if (s.hash == h && s.node->first == id) return s.node;
  }
}

inline std::pair<EntryNode*, bool> IdTable::Emplace(std::string_view id) {
  if (bits_ == 0 || (size_ + 1) * 2 > (size_t{1} << bits_)) Grow();
  uint64_t h = Hash(id);
  size_t i = Home(h);
  for (;; i = (i + 1) & Mask()) {
    const Slot& s = slots_[i];
    if (s.node == nullptr) break;
    if (s.hash == h && s.node->first == id) return {s.node, false};
  }
  auto* node =
      new EntryNode(std::piecewise_construct, std::forward_as_tuple(id), std::tuple<>());
  slots_[i] = {h, node};
  ++size_;
  return {node, true};
}

inline void IdTable::Erase(EntryNode* node) {
  size_t i = Home(Hash(node->first));
  while (slots_[i].node != node) i = (i + 1) & Mask();
  // Backward shift: a later slot of the same run moves into the hole unless
  // its home lies cyclically in (hole, slot], where it must stay reachable.
  for (size_t j = (i + 1) & Mask(); slots_[j].node != nullptr; j = (j + 1) & Mask()) {
    size_t k = Home(slots_[j].hash);
    bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (stays) continue;
    slots_[i] = slots_[j];
    i = j;
  }
  slots_[i] = {};
  --size_;
  delete node;
}

inline void IdTable::Grow() {
  int old_bits = bits_;
  std::unique_ptr<Slot[]> old = std::move(slots_);
  bits_ = bits_ == 0 ? 4 : bits_ + 1;
  slots_ = std::make_unique<Slot[]>(size_t{1} << bits_);
  if (old_bits == 0) return;
  for (size_t o = 0; o < (size_t{1} << old_bits); ++o) {
    if (old[o].node == nullptr) continue;
    size_t i = Home(old[o].hash);
    while (slots_[i].node != nullptr) i = (i + 1) & Mask();
    slots_[i] = old[o];
  }
}

// One of Store::kShards partitions of the id space. All fields guarded by mu.
struct Shard {
  std::mutex mu;
  IdTable map;
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
  // Its size hint could never fit raw: it may not evict (Store::UploadBegin).
  bool no_evict = false;
  uint64_t size_hint = 0;    // the writer's total (0: unknown)
  size_t compress_from = 0;  // chunks before it are not deferred any more
};

inline bool HasDeferred(std::span<const ChunkRef> refs) {
  for (const auto& r : refs) {
    if (r.chunk->deferred.load(std::memory_order_relaxed)) return true;
  }
  return false;
}
inline bool HasDeferred(const Blob& b) { return HasDeferred(b.chunks); }

}  // namespace shovel::worker
