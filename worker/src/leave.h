// Leaving the cluster: a worker that drains (DRAIN, or SIGTERM with the
// members known) copies each id it holds to the worker that takes its place
// in the id's replica set, so that nothing it alone held is lost.
//
// LeaveTargets is the plan for one id (pure). LeaveCopier runs a pass over
// the store: the first while the worker still serves, then, once it serves
// no more, a final pass that copies only what changed since (and deletes on
// the targets what was deleted here since). Copies are replica SETs carrying
// the id's version, so a target keeps a newer copy it already has.
//
// Thread-safety: LeaveProgress is read from any thread (atomics); a
// LeaveCopier is used by one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pacer.h"
#include "shovel/log.h"
#include "shovel/protocol.h"
#include "shovel/status.h"

namespace shovel::worker {

class Replicator;
class Store;

// Indexes into `nodes` of the workers that enter the id's replica set of
// `r` copies when nodes[self] leaves: the first `r` of the id's rendezvous
// order over `nodes` without `self`, less those already among the first
// `r` with it. Empty when nodes[self] does not hold the id (not in its
// first `r`) or when no other node is left.
std::vector<size_t> LeaveTargets(std::string_view id,
                                 const std::vector<std::string>& nodes, size_t self,
                                 size_t r);

// The index into `nodes` of the worker that takes a pinned id (placed by
// init, not replicated) when nodes[self] leaves: the id's home then, the
// first of its rendezvous order without `self`, so clients find it there
// without a pointer. nullopt when no other node is left.
std::optional<size_t> PinnedTarget(std::string_view id,
                                   const std::vector<std::string>& nodes, size_t self);

// What NODE_STATS shows of a leave in progress.
struct LeaveProgress {
  enum State : int { kNone = 0, kCopying = 1, kFinal = 2, kLeft = 3 };
  std::atomic<int> state{kNone};
  std::atomic<uint64_t> ids{0};     // ids held when the leave began
  std::atomic<uint64_t> copied{0};  // copies made (and deletes sent)
  std::atomic<uint64_t> bytes{0};   // bytes copied
  std::atomic<uint64_t> failed{0};  // ids that could not be copied
  static std::string_view Name(int state);
};

class LeaveCopier {
 public:
  using LogFn = shovel::log::LogFn;
  // `members` must list this worker (store->node_id()). `rate` gives the
  // pace in bytes per second (the live handover-rate). All pointers must
  // outlive the copier.
  // Copying stops at `deadline` (what is left counts as not copied).
  LeaveCopier(Store* store, Replicator* replicator, const wire::HandoverBody& body,
              std::function<uint64_t()> rate, LeaveProgress* progress, LogFn log,
              std::chrono::steady_clock::time_point deadline);

  // kInvalidArgument naming the problem when the plan cannot work: this
  // worker is not among the members, or it is the only one.
  Status Check() const;
  // One pass. The first copies every id this worker holds that has a
  // target; a later one copies only ids whose version changed since the
  // last copy and deletes on the targets the ids deleted here since.
  void Pass();

 private:
  // Sends one replica write of `id` (h: op, flags, version_no) to
  // `targets`; false if any failed.
  bool Send(const wire::Header& h, const std::string& id, std::string_view bytes,
            const std::vector<size_t>& targets);
  // Where `id` goes: its LeaveTargets, or its PinnedTarget when pinned.
  std::vector<size_t> Targets(std::string_view id, bool pinned) const;
  void Pace(uint64_t bytes);

  Store* const store_;
  Replicator* const replicator_;
  const std::function<uint64_t()> rate_;
  LeaveProgress* const progress_;
  const LogFn log_;
  std::vector<std::string> nodes_, endpoints_;
  size_t self_ = SIZE_MAX;
  size_t r_ = 1;
  bool first_ = true;
  struct Sent {
    uint64_t version = 0;  // the version copied
    bool pinned = false;
  };
  std::map<std::string, Sent, std::less<>> sent_;
  const std::chrono::steady_clock::time_point deadline_;
  Pacer pacer_{Pacer::Clock::now()};
};

}  // namespace shovel::worker
