// LeaseKeeper: a worker's side of the leases between workers (LeaseTable,
// leases.h): it asks its replicas for leases (at once when a primary
// request finds one missing, and ahead of expiry from a thread of its own),
// answers the LEASE requests of others, and fences the workers it serves
// in place of or that missed a write.
//
// Thread-safe: the table is guarded by mu_ (a leaf, never held during a
// request to another worker). Owns one thread (Start/destructor).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "leases.h"
#include "shovel/log.h"
#include "shovel/protocol.h"
#include "shovel/status.h"

namespace shovel::worker {

class Replicator;

class LeaseKeeper;

// A request served in place of passed-over workers, from
// LeaseKeeper::CheckPrimary until it is done (its write applied or
// failed): none of them is granted a lease from this worker meanwhile
// (LeaseTable::BeginInPlace). Kept until the reply is made. Movable; empty
// when default-made.
class InPlaceServing {
 public:
  InPlaceServing() = default;
  InPlaceServing(const InPlaceServing&) = delete;
  InPlaceServing& operator=(const InPlaceServing&) = delete;
  InPlaceServing(InPlaceServing&& o) noexcept;
  InPlaceServing& operator=(InPlaceServing&& o) noexcept;
  ~InPlaceServing();

 private:
  friend class LeaseKeeper;
  LeaseKeeper* keeper_ = nullptr;
  std::vector<std::string> peers_;
  std::vector<std::string> replicas_;
};

class LeaseKeeper {
 public:
  struct Hooks {
    std::function<uint64_t()> epoch;  // this worker's epoch
    // A peer refused this worker a lease asked under `refused` (it is
    // fenced): raise the epoch and drop what is held, unless the epoch is
    // past `refused` already (it rejoined since). Returns the epoch.
    std::function<uint64_t(uint64_t refused)> rejoin;
    // A fenced peer came back under a new epoch: hand it its ids.
    // Members: endpoint, node id (this worker and the peers it knows).
    std::function<void(const std::string& target,
                       std::vector<std::pair<std::string, std::string>> members)>
        handover;
    shovel::log::LogFn log;  // may be null
  };
  static constexpr std::chrono::milliseconds kAskTimeout{300};
  static constexpr std::chrono::milliseconds kRenewEvery{150};

  // `replicator` must outlive the keeper.
  LeaseKeeper(Replicator* replicator, std::string endpoint, std::string node_id,
              Hooks hooks);
  ~LeaseKeeper();
  void Start();

  // Why a primary request may not be served here now.
  struct Refusal {
    Status status;
    std::string replica_at_fault;  // a replica that did not answer
    std::string live_primary;      // a passed-over worker that holds a lease
    uint64_t epoch = 0;            // set when this worker just rejoined
  };
  // Before serving a kFlagReplicas request: the passed-over workers' leases
  // have run out (they are fenced), and each replica granted this worker a
  // lease (asked now if not). May block up to kAskTimeout per replica.
  // With passed-over workers, `serving` (required then) holds them until
  // the request is done.
  std::optional<Refusal> CheckPrimary(const std::vector<std::string>& replicas,
                                      const std::vector<std::string>& passed_over,
                                      InPlaceServing* serving);
  // True when this worker holds a lease from each of `replicas` (never
  // blocks: for serving a read on the I/O thread).
  bool HoldsAll(const std::vector<std::string>& replicas);
  // HoldsAll, and no worker outranks this one for any of `ids` (the id of
  // a read, or those of a BATCH of reads; nobody passed over; see
  // FirstOutranked), under one lock: the check of a read served on the I/O
  // thread. Never blocks.
  bool MayServeRead(std::span<const std::string_view> ids,
                    const std::vector<std::string>& replicas);
  // A worker that holds a lease from this one and comes before the worker
  // with node id `node` in `id`'s order (and is not in `passed_over`): it
  // may serve `id` as its primary for clients that know it, so `node` must
  // not for clients that do not know it yet (it just joined). For a write
  // that `node` forwarded to this worker as its replica. Empty: none.
  // Never blocks.
  std::string Outranking(std::string_view id, std::string_view node,
                         const std::vector<std::string>& passed_over);
  // For each of `ids` from index `from` on, under one lock: a worker that
  // comes before this one in its order and holds a lease from this one
  // (Outranking) or, as their grants named it, from one of `replicas`
  // (LeaseTable::OutrankedBy). The index of the first such id (the
  // worker's endpoint in *who), or ids.size() when none.
  size_t FirstOutranked(std::span<const std::string_view> ids, size_t from,
                        const std::vector<std::string>& replicas,
                        const std::vector<std::string>& passed_over, std::string* who);
  // A LEASE from a peer, asked in place of `in_place_of` (see
  // LeaseTable::Request): granted, refused (it is fenced: it must rejoin),
  // or not now (`busy` set).
  // `ask`: the sender's number for this ask (0: none given).
  LeaseTable::Answer OnLease(const wire::LeaseBody& from, uint64_t epoch,
                             const std::vector<std::string>& in_place_of = {},
                             uint64_t ask = 0);
  // A replica did not answer a forwarded write: it is fenced.
  void FenceReplica(const std::string& peer);
  // This worker is leaving and serves no more: tells every worker it held
  // a lease from that it gives them up, so they serve in its place at once
  // (a LEASE with epoch 0). Waits at most kAskTimeout for each.
  void ReleaseAll();
  // This worker and the peers it exchanged leases with in the last
  // LeaseTable::kKeep: endpoint, node id.
  std::vector<std::pair<std::string, std::string>> Members();

 private:
  friend class InPlaceServing;
  // What InPlaceServing began is done.
  void EndInPlace(const std::vector<std::string>& peers,
                  const std::vector<std::string>& replicas);
  enum class Asked { kGranted, kFenced, kBusy };
  // Sends a LEASE: granted; fenced (*epoch is the epoch it was asked
  // under); busy (*busy may serve in place of this worker, or this worker
  // may not yet serve in place of *busy). kUnavailable when no answer came.
  // With `in_place_of`, it is asked in place of the workers clients passed
  // over lately with `peer` as replica; renewals are not (only of those
  // this worker still serves a request in place of: LeaseTable::AskList),
  // so a grant in another's place ends at the first renewal after the last
  // request that needed it.
  Result<Asked> Ask(const std::string& peer, uint64_t* epoch, std::string* busy = nullptr,
                    bool in_place_of = false);
  // CheckPrimary's ask of replica `r`'s lease; a refusal when not granted.
  std::optional<Refusal> AskAsPrimary(const std::string& r);
  void Run();
  // HoldsAll with mu_ held.
  bool HoldsAllLocked(const std::vector<std::string>& replicas, LeaseTable::Ns now);
  void Log(shovel::log::Level level, const std::string& line) const {
    if (hooks_.log) hooks_.log(level, line);
  }
  static LeaseTable::Ns Now();
  static LeaseTable::Ns WallNow();

  Replicator* const replicator_;
  const std::string endpoint_;
  const std::string node_id_;
  const Hooks hooks_;
  std::mutex mu_;
  LeaseTable table_;  // guarded by mu_
  std::condition_variable cv_;
  bool stop_ = false;                  // guarded by mu_
  LeaseTable::Ns fenced_checked_ = 0;  // guarded by mu_
  std::thread thread_;
};

}  // namespace shovel::worker
