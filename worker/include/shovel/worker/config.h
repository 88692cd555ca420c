// WorkerConfig: the settings of a worker that may change while it runs
// (from flags at start, later from Consul KV). A plain value type.
#pragma once

#include <cstdint>

namespace shovel::worker {

// Bytes per second each worker sends a hand-over job's target, at most: with
// N-1 peers copying to a worker that came back, about a 10 GbE link's worth
// into it once N reaches 10; on one shared host clients keep 0.7-0.8x of
// their throughput during the move (docs/performance.md).
inline constexpr uint64_t kDefaultHandoverRate = 128ull << 20;

struct WorkerConfig {
  uint64_t max_memory = 1ull << 30;  // stored bytes + overhead, uploads included
  int compression_level = 1;         // zstd level; 0 = store chunks raw
  uint64_t chunk_size = 4ull << 20;  // raw bytes per chunk (64 KiB .. 64 MiB)
  bool eviction = true;              // evict unpinned ids LRU when full
  // Bytes per second a hand-over copies to a (re)joined worker, at most.
  uint64_t handover_rate = kDefaultHandoverRate;
  // The decoded-chunk cache (docs/cache.md): raw bytes of recently read
  // compressed chunks, charged to max_memory. A share of max_memory when
  // decoded_cache_percent > 0, else decoded_cache_bytes (0: off); never more
  // than half of max_memory.
  int decoded_cache_percent = 10;
  uint64_t decoded_cache_bytes = 0;
};

// The decoded-chunk cache's capacity under `c`.
inline uint64_t DecodedCacheCapacity(const WorkerConfig& c) {
  uint64_t want =
      c.decoded_cache_percent > 0
          ? c.max_memory * static_cast<uint64_t>(c.decoded_cache_percent) / 100
          : c.decoded_cache_bytes;
  return want < c.max_memory / 2 ? want : c.max_memory / 2;
}

}  // namespace shovel::worker
