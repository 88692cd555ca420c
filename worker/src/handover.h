// Handover: copies this worker's ids to a worker that (re)joined, in the
// background, so that each id is again on all of its replica set.
//
// A HANDOVER request (a client sends one to every live worker once a worker
// has rejoined under a new epoch, see docs/cache.md) names the target and
// the live members; a job then walks this worker's ids and copies each one
// whose replica set holds both the target and this worker, as a replica's
// SET with the id's version: the target keeps a copy it already has at that
// version or a newer one, so a copy never overwrites a later write. Pinned
// ids are not copied; values over Replicator::kMaxFetch go part by part
// (CopyLargeValue). Copies are paced
// to at most rate() bytes per second (the live setting handover-rate).
//
// Asked by a joiner with one copy per id (`move`), the ids copied are those that move
// from this worker to the target (first in their order now; this worker
// was first without it), and this worker drops its copies kDropAfter after
// the job (unless written since), so an old copy is never served again if
// the target goes away; not when `may_drop` says no (a client asked this
// worker for more copies: it may still be a replica).
//
// Thread-safe. Owns one thread; jobs run one at a time, in order (a queued
// job for the same target is replaced by the newer one).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "shovel/protocol.h"
#include "shovel/worker/config.h"

namespace shovel::worker {

class Replicator;
class Store;

class Handover {
 public:
  static constexpr uint64_t kDefaultRate = kDefaultHandoverRate;  // bytes per second

  // `store` and `replicator` must outlive the Handover.
  Handover(Store* store, Replicator* replicator);
  ~Handover();

  static constexpr std::chrono::seconds kDropAfter{2};

  // `move`: a joiner asked (HANDOVER with one copy per id): copy the ids
  // that move to it and drop them here afterwards. Otherwise (a peer new or
  // back under a new epoch, seen through leases) copy the ids whose replica
  // set holds both; with one copy per id that is none.
  void Start(wire::HandoverBody body, bool move = false);
  // Set once before Start: whether moved ids may be dropped here.
  void SetMayDrop(std::function<bool()> may_drop) { may_drop_ = std::move(may_drop); }
  // Set once before Start: called with (id, target endpoint, target node,
  // true) before a moving id is copied, and with false if the copy failed
  // (Service::MarkMoved / UnmarkMoved: requests are redirected meanwhile).
  using MoveFn = std::function<void(const std::string&, const std::string&,
                                    const std::string&, bool)>;
  void SetOnMove(MoveFn on_move) { on_move_ = std::move(on_move); }
  uint64_t ids_dropped() const { return dropped_.load(); }
  // Bytes per second, at most; applies to the copy in progress too.
  void SetRate(uint64_t bytes_per_second) { rate_.store(bytes_per_second); }
  uint64_t rate() const { return rate_.load(); }

  // Ids and bytes copied since start; jobs queued or running.
  uint64_t ids_copied() const { return ids_copied_.load(); }
  uint64_t bytes_copied() const { return bytes_copied_.load(); }
  size_t pending() const;

 private:
  void Run();
  void Job(const wire::HandoverBody& b, bool move);
  void DropMoved(const std::vector<std::pair<std::string, uint64_t>>& moved);

  Store* const store_;
  Replicator* const replicator_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  struct Queued {
    wire::HandoverBody body;
    bool move = false;
  };
  std::deque<Queued> queue_;  // guarded by mu_
  bool running_ = false;      // guarded by mu_
  bool stop_ = false;         // guarded by mu_
  std::atomic<uint64_t> ids_copied_{0};
  std::atomic<uint64_t> bytes_copied_{0};
  std::atomic<uint64_t> rate_{kDefaultRate};
  std::atomic<uint64_t> dropped_{0};
  std::function<bool()> may_drop_;
  MoveFn on_move_;
  std::thread thread_;
};

}  // namespace shovel::worker
