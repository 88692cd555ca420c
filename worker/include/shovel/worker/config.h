// WorkerConfig: the settings of a worker that may change while it runs
// (from flags at start, later from Consul KV). A plain value type.
#pragma once

#include <cstdint>

namespace shovel::worker {

struct WorkerConfig {
  uint64_t max_memory = 1ull << 30;  // stored bytes + overhead, uploads included
  int compression_level = 1;         // zstd level; 0 = store chunks raw
  uint64_t chunk_size = 4ull << 20;  // raw bytes per chunk (64 KiB .. 64 MiB)
  bool eviction = true;              // evict unpinned ids LRU when full
  // Bytes per second a hand-over copies to a (re)joined worker, at most.
  uint64_t handover_rate = 256ull << 20;
};

}  // namespace shovel::worker
