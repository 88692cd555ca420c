// Store: memory accounting and LRU eviction.
#include <algorithm>
#include <limits>

#include "decoded_cache.h"
#include "shovel/size.h"
#include "store_internal.h"

namespace shovel::worker {

Status Store::NoSpace(uint64_t needed, uint64_t own_upload) const {
  const uint64_t limit = limit_.load(), pinned = pinned_bytes_.load();
  const uint64_t uploads = upload_bytes_.load();
  const uint64_t others = uploads - std::min(uploads, own_upload);
  // Uploads in progress hold memory too: say so, or a large streamed value
  // would read as "needs 4 MiB" when it is the upload itself that filled up.
  std::string held = FormatSize(limit) + " limit, " + FormatSize(pinned) + " pinned";
  if (others > 0)
    held += ", " + FormatSize(others) + " held by other uploads in progress";
  const int64_t transit = transit_.load();
  if (transit > 0) held += ", " + FormatSize(transit) + " in replies not yet sent";
  std::string msg = "worker " + node_id_;
  if (pinned + uploads + needed > limit) {
    // Even with every unpinned id evicted it would not fit: not "full".
    msg += " cannot hold ";
    msg += own_upload > 0 ? "this upload: it holds " + FormatSize(own_upload) +
                                " and needs " + FormatSize(needed) + " more"
                          : "a write of " + FormatSize(needed);
    msg += " (" + held + ")";
  } else {
    msg += " is full: " + held + "; ";
    msg += own_upload > 0 ? "this upload holds " + FormatSize(own_upload) + " and needs "
                          : "the write needs ";
    msg += FormatSize(needed) + " more";
  }
  return Status::NoSpace(std::move(msg));
}

bool Store::TryReserve(uint64_t bytes, uint64_t credit) {
  uint64_t need = bytes > credit ? bytes - credit : 0;
  uint64_t used = used_.load();
  // Reply copies in transit hold memory too (transit_bytes()).
  const uint64_t transit = static_cast<uint64_t>(std::max<int64_t>(0, transit_.load()));
  while (used + transit + need <= limit_.load() || need == 0) {
    if (used_.compare_exchange_weak(used, used + bytes)) return true;
  }
  return false;
}

Status Store::Reserve(uint64_t bytes, uint64_t credit, std::string_view exclude) {
  uint64_t need = bytes > credit ? bytes - credit : 0;
  for (;;) {
    if (TryReserve(bytes, credit)) return Status::Ok();
    // The decoded cache gives way first: it only saves work.
    if (uint64_t freed = decoded_->Shrink(need); freed > 0) {
      Release(freed);
      continue;
    }
    // Deferred chunks are compressed before anything is evicted.
    if (CompressPending(1) > 0) continue;
    // What eviction can never free: pinned data and uploads in progress.
    uint64_t fixed = pinned_bytes_.load() + upload_bytes_.load();
    if (fixed + need > limit_.load() || !eviction_.load() || !EvictOne(exclude)) {
      return NoSpace(bytes);
    }
  }
}

void Store::Release(uint64_t bytes) { used_.fetch_sub(bytes); }

bool Store::EvictOne(std::string_view exclude) {
  // Exact global LRU: each shard's list is ordered by tick, so the oldest
  // entry overall is the oldest of the shards' tails.
  size_t best = kShards;
  uint64_t best_tick = std::numeric_limits<uint64_t>::max();
  for (size_t i = 0; i < kShards; ++i) {
    Shard& s = shards_[i];
    std::lock_guard<std::mutex> l(s.mu);
    for (auto it = s.lru.rbegin(); it != s.lru.rend(); ++it) {
      if ((*it)->first == exclude) continue;
      if ((*it)->second.tick < best_tick) {
        best_tick = (*it)->second.tick;
        best = i;
      }
      break;
    }
  }
  if (best == kShards) return false;
  BlobPtr victim;
  {
    Shard& s = shards_[best];
    std::lock_guard<std::mutex> l(s.mu);
    for (auto it = s.lru.rbegin(); it != s.lru.rend(); ++it) {
      if ((*it)->first == exclude) continue;
      std::string id = (*it)->first;
      victim = EraseLocked(s, id, /*evicted=*/true);
      break;
    }
  }
  if (!victim) return true;  // raced with another writer; the caller retries
  Release(victim->charged);
  evictions_.fetch_add(1);
  evicted_bytes_.fetch_add(victim->charged, std::memory_order_relaxed);
  return true;
}

void Store::EvictDownToLimit() {
  const uint64_t used = used_.load(), limit = limit_.load();
  if (used > limit) Release(decoded_->Shrink(used - limit));
  while (used_.load() > limit_.load() && eviction_.load()) {
    if (!EvictOne({})) break;
  }
}

}  // namespace shovel::worker
