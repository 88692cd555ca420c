// Handover: copies this worker's ids to a worker that (re)joined, in the
// background, so that each id is again on all of its replica set.
//
// A HANDOVER request (a client sends one to every live worker once a worker
// has rejoined under a new epoch, see docs/cache.md) names the target and
// the live members; a job then walks this worker's ids and copies each one
// whose replica set holds both the target and this worker, as a replica's
// SET with the id's version: the target keeps a copy it already has at that
// version or a newer one, so a copy never overwrites a later write. Pinned
// ids and values over Replicator::kMaxFetch are not copied. Copies are paced
// to at most rate() bytes per second (the live setting handover-rate).
//
// Thread-safe. Owns one thread; jobs run one at a time, in order (a queued
// job for the same target is replaced by the newer one).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "shovel/protocol.h"

namespace shovel::worker {

class Replicator;
class Store;

class Handover {
 public:
  static constexpr uint64_t kDefaultRate = 256ull << 20;  // bytes per second

  // `store` and `replicator` must outlive the Handover.
  Handover(Store* store, Replicator* replicator);
  ~Handover();

  void Start(wire::HandoverBody body);
  // Bytes per second, at most; applies to the copy in progress too.
  void SetRate(uint64_t bytes_per_second) { rate_.store(bytes_per_second); }
  uint64_t rate() const { return rate_.load(); }

  // Ids and bytes copied since start; jobs queued or running.
  uint64_t ids_copied() const { return ids_copied_.load(); }
  uint64_t bytes_copied() const { return bytes_copied_.load(); }
  size_t pending() const;

 private:
  void Run();
  void Job(const wire::HandoverBody& b);

  Store* const store_;
  Replicator* const replicator_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<wire::HandoverBody> queue_;  // guarded by mu_
  bool running_ = false;                  // guarded by mu_
  bool stop_ = false;                     // guarded by mu_
  std::atomic<uint64_t> ids_copied_{0};
  std::atomic<uint64_t> bytes_copied_{0};
  std::atomic<uint64_t> rate_{kDefaultRate};
  std::thread thread_;
};

}  // namespace shovel::worker
