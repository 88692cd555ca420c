// Service: turns one decoded request into one reply, over a Store. No
// sockets (the server moves frames); thread-safe (state is in the Store and
// in atomic counters).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "append_tokens.h"
#include "leave.h"
#include "request_error_log.h"
#include "shovel/protocol.h"
#include "shovel/worker/metrics.h"
#include "shovel/worker/store.h"
#include "tombstones.h"

namespace shovel::worker {

inline constexpr uint64_t kMaxReplyBytes = 16ull << 20;  // one GET reply
inline constexpr uint32_t kDefaultListLimit = 1000;

// One payload frame of a reply: owned bytes, or a zero-copy slice.
struct Frame {
  std::string bytes;
  Slice slice;  // used when slice.owner is set
};

struct ServiceReply {
  wire::Header header;
  std::vector<Frame> payload;
};

// Counters the server and the service share. Atomic; owned by the Worker.
struct ServiceCounters {
  std::atomic<uint64_t> malformed{0};
  std::atomic<int64_t> in_flight{0};
  std::atomic<int64_t> connections{0};  // TCP connections of clients and peers
  // Every request Service::Handle answers, and the server's refusals
  // (busy, disconnected, refused connections): NODE_STATS and /metrics.
  RequestCounters requests;
  // Where failed requests are logged, rate-limited; null: they are not.
  // Set before the server starts; owned by the Worker.
  RequestErrorLog* errors = nullptr;

  // A request that could not be decoded (`why`): counted, and logged.
  void Malformed(const Status& why) {
    malformed.fetch_add(1);
    if (errors != nullptr) errors->Report({}, {}, why);
  }
};

class Handover;
class InPlaceServing;
class LeaseKeeper;
class Replicator;
class Watches;

class Service {
 public:
  // `store`, `counters` and `replicator` must outlive the Service;
  // `replicator` may be null (writes with kFlagReplicas are then refused).
  Service(Store* store, ServiceCounters* counters, std::string endpoint,
          Replicator* replicator = nullptr);

  // `keep`, when set, holds the bytes of the request's single payload frame
  // alive and unchanged; a SET may store them without a copy. Counted in
  // counters->requests (op, status, bytes, time); a BATCH counts once as
  // `batch` and each of its items under its own operation.
  ServiceReply Handle(const wire::Request& req,
                      std::shared_ptr<const void> keep = nullptr);
  // True when `req` is small and cheap enough to serve on the I/O thread:
  // PING, STAT, CREATE, SET/APPEND of at most kCheapBytes, SET of a value
  // in one payload frame that the store keeps as it is (Store::CheapSet:
  // one chunk, no compression on the way in), GET of a blob of
  // at most kCheapBytes, of a range in one raw chunk (a zero-copy slice of
  // any size) or of a missing id, LIST of at most kCheapListNames
  // (a walk of the sorted index, as a lookup's one-name LIST), BATCH (its
  // items are bounded: see wire::DecodeBatchItem and Batch). Looks the id
  // up, never blocks.
  bool Cheap(const wire::Request& req);
  static constexpr uint64_t kCheapBytes = 64 << 10;
  static constexpr uint32_t kCheapListNames = 16;

  // A primary's SET, or APPEND with a token, that the I/O thread forwards
  // to the replicas itself and applies once each answered OK
  // (service_fast.cc). Prepared only in the common case, where serving it
  // needs nothing that may block: no passed-over worker, leases held from
  // every replica (so each is a worker that answers), a value the store
  // keeps as it is (see Cheap), the id neither pinned, pointed to, moved
  // nor being joined, and what the write depends on checked; anything else
  // (nullopt) takes AsPrimary on the id's lane handler. `replicas`
  // excludes this worker; `have`, `size`: the id's version and size before
  // the write.
  struct FastWrite {
    uint64_t version = 0;
    uint64_t size = 0;
    uint64_t have = 0;
    std::vector<std::string> replicas;
  };
  // Cheap, never blocks; takes a version when it returns one. Writes of
  // one id must not overlap from here until FinishFastWrite.
  std::optional<FastWrite> PrepareFastWrite(const wire::Request& req);
  // Applies a prepared write every replica applied, and answers it as
  // Handle does (counted from `start`).
  ServiceReply FinishFastWrite(const wire::Request& req, const FastWrite& w,
                               std::shared_ptr<const void> keep,
                               std::chrono::steady_clock::time_point start);
  // An error reply to a request whose header decoded.
  static ServiceReply Error(const wire::Header& req, const Status& st);
  wire::NodeStats Stats() const;
  // What the worker did and holds (metrics.h); consul_registered is left -1.
  WorkerSample Sample() const;
  // The epoch this worker serves under: its start time (ns) at first,
  // raised when it rejoins (Rejoin: a peer refused it a lease, or an EPOCH
  // from a peer that fenced it); raising it drops every unpinned id held,
  // which the other copies still have (see docs/cache.md, Failures).
  uint64_t epoch() const { return epoch_.load(); }
  // Set once before serving: HANDOVER requests start jobs on it (refused
  // while unset).
  void SetHandover(Handover* handover) { handover_ = handover; }
  // Set once before serving: kFlagReplicas requests are served under its
  // leases, and LEASE requests answered by it (refused while unset).
  void SetLeases(LeaseKeeper* leases) { leases_ = leases; }
  // Set once before serving: STAT with kFlagWatch is granted watches by it,
  // and RENEW_WATCHES renews them (watches.h). Unset: neither is granted.
  void SetWatches(Watches* watches) { watches_ = watches; }
  // Set once before serving: DRAIN requests call `drain` (which starts the
  // leave, or says why it cannot), and NODE_STATS shows `progress`.
  // Unset: DRAIN is refused.
  using DrainFn = std::function<Status(const wire::HandoverBody&)>;
  void SetLeave(const LeaveProgress* progress, DrainFn drain) {
    leave_ = progress;
    drain_ = std::move(drain);
  }
  // Joining with one copy per id (Worker::Join): until the workers that
  // held this worker's ids before it joined have handed them over, an id
  // missing here is first taken from the worker first in its order
  // without this one, and a delete leaves a tombstone so that an older
  // copy handed over later is not stored. Null: not joining.
  struct JoinPlan {
    std::vector<std::string> nodes, endpoints;  // the members
    size_t self = 0;                            // this worker in `nodes`
  };
  void SetJoining(std::shared_ptr<const JoinPlan> plan);
  // An id handed over to a joiner (one copy per id): for kMovedFor, every
  // request for it but a replica's or a NoRedirect one is answered with a
  // redirect to the joiner, so a client that has not seen the join yet
  // neither writes here nor reads what is about to be dropped.
  static constexpr std::chrono::seconds kMovedFor{60};
  void MarkMoved(const std::string& id, const std::string& endpoint,
                 const std::string& node);
  void UnmarkMoved(const std::string& id);
  // The most copies (1 + replicas named) a client's request asked for.
  uint32_t replicas_seen() const { return replicas_seen_.load(); }
  // This worker was fenced (another served in its place while it was
  // away): unless its epoch moved past `refused` already, the epoch is
  // raised and every unpinned id dropped. Returns the epoch.
  uint64_t Rejoin(uint64_t refused);
  // A fenced worker came back: hand it the ids it is a replica of, over
  // `members` (endpoint, node id).
  void HandOverTo(const std::string& target,
                  const std::vector<std::pair<std::string, std::string>>& members);
  const std::string& endpoint() const { return endpoint_; }
  Replicator* replicator() const { return replicator_; }

 private:
  ServiceReply Serve(const wire::Request& req, std::shared_ptr<const void> keep);
  // A SET or APPEND `req` the store takes without copying or compressing
  // it on the way in (Cheap's rule for them).
  bool CheapToStore(const wire::Request& req) const;
  // Raises replicas_seen_ to `copies` (a request named that many).
  void SawCopies(uint32_t copies);
  // req.replicas without this worker: whom a primary forwards to.
  std::vector<std::string> OtherReplicas(const wire::Request& req) const;
  // Handle's counting and error log of a reply made from `start`.
  void Count(const wire::Request& req, const ServiceReply& out,
             std::chrono::steady_clock::time_point start);
  ServiceReply Get(const wire::Request& req, uint64_t max_bytes = kMaxReplyBytes);
  // The reply to a GET that read `r`.
  static ServiceReply ReadReply(const wire::Header& h, ReadResult r);
  ServiceReply Write(const wire::Request& req, std::shared_ptr<const void> keep);
  // A SET with kFlagWatch that succeeded: watch the id for the request's
  // connection, and answer with its StatBody.
  void WatchWritten(const wire::Request& req, ServiceReply& out);
  ServiceReply Upload(const wire::Request& req);
  // kFlagReplicas: checks, numbers the write, forwards it to the replicas,
  // then applies it here (service_replica.cc).
  ServiceReply AsPrimary(const wire::Request& req, std::shared_ptr<const void> keep);
  // kFlagReplica: applies a primary's write with its version.
  ServiceReply AsReplica(const wire::Request& req, std::shared_ptr<const void> keep);
  ServiceReply Primary(const wire::Request& req, std::shared_ptr<const void> keep);
  // LEASE from another worker.
  ServiceReply Lease(const wire::Request& req);
  ServiceReply Replica(const wire::Request& req, std::shared_ptr<const void> keep);
  // A replica's streamed write (Replicator::CopyLarge): UPLOAD_BEGIN at the
  // primary's version (answered with the handle in `offset`, 0 when this
  // worker holds that version or a newer one), UPLOAD_DATA, and a commit
  // that keeps a newer copy and is refused if this worker rejoined since
  // the begin.
  ServiceReply ReplicaUpload(const wire::Request& req);
  // A replica's copy at `version` that need not be written: this worker
  // holds the id at that version or a newer one (its version and size), or
  // deleted it at that version or later (version 0). nullopt: write it.
  struct Held {
    uint64_t version = 0;
    uint64_t size = 0;
  };
  std::optional<Held> NewerHere(std::string_view id, uint64_t version);
  // The refusal to serve as the primary of an id copied on `replicas`, when
  // this worker lacks a lease from one of them or a passed-over worker may
  // still serve it (see LeaseKeeper::CheckPrimary), or, for `id`, a worker
  // that comes before this one in its order may serve it (see
  // LeaseKeeper::Outranking); nullopt: serve.
  // `ids`: the request's id (IdList), or the ids of a BATCH of reads,
  // refused when a worker that comes before this one in any one's order
  // may serve it.
  // With `passed_over`, `serving` (required then) holds them while the
  // request is served in their place (see InPlaceServing).
  std::optional<ServiceReply> LeaseRefused(const wire::Header& h,
                                           const std::vector<std::string>& replicas,
                                           const std::vector<std::string>& passed_over,
                                           std::span<const std::string_view> ids,
                                           InPlaceServing* serving = nullptr);
  // `id` as a list of ids for LeaseRefused (none when it is empty).
  static std::span<const std::string_view> IdList(const std::string_view& id) {
    return {&id, id.empty() ? 0u : 1u};
  }
  // The worker before this one in the order of one of `ids` that may serve
  // it (LeaseKeeper::FirstOutranked, with the request's `replicas`), unless
  // that id is pinned here; empty: none.
  std::string OutrankedBy(std::span<const std::string_view> ids,
                          const std::vector<std::string>& replicas,
                          const std::vector<std::string>& passed_over);
  // kUnavailable with `why`: `before` comes before the primary in the id's
  // order and may serve it (payload[2]; payload[1] empty: no replica is at
  // fault), so the client asks it.
  ServiceReply Outranked(const wire::Header& h, const std::string& before,
                         const std::string& why);
  // The ids of a BATCH's items (views into its body); empty when the body
  // does not decode (Batch answers that).
  static std::vector<std::string_view> BatchIds(const wire::Request& req);
  // Takes `id` as the first of `from` that holds it has it (this worker,
  // its primary, lacks it or is behind), whatever its size: a value over
  // one message arrives part by part into a streamed write. kNotFound when
  // none holds it or it was deleted here later; *unanswered names one that
  // did not answer (see Replicator::FetchParts).
  Status TakeFrom(const std::vector<std::string>& from, std::string_view id,
                  std::string* unanswered);
  // OK with the id's current version and size: the append with this
  // request's token was applied before.
  ServiceReply AppliedBefore(const wire::Header& h, std::string_view id);
  // EPOCH: raises the epoch to aux if higher (dropping what is held).
  ServiceReply Epoch(const wire::Header& h);
  // A replicated write sent for another epoch than this worker's (aux, when
  // not 0): kConflict with this worker's epoch in aux; nullopt otherwise.
  std::optional<ServiceReply> StaleEpoch(const wire::Header& h) const;
  // A replicated write whose sender's deadline (length: wall-clock ms, 0:
  // none) passed before it was served: kTimeout, nothing applied. A write
  // that sat in a paused worker's queue must not apply after its client
  // gave up on it.
  std::optional<ServiceReply> PastDeadline(const wire::Header& h) const;
  ServiceReply Meta(const wire::Request& req);
  ServiceReply List(const wire::Request& req);
  // BATCH: every item served in order, one reply each (DecodeBatchItem's
  // errors become that item's error reply); a body that does not split into
  // its items is one error reply.
  ServiceReply Batch(const wire::Request& req);
  // Serves one BATCH item and appends its reply to `out` (`views` is
  // scratch space kept across items).
  void AddBatchItem(const wire::Request& item, wire::BatchWriter& out,
                    std::vector<std::string_view>& views);
  static void AddReply(const ServiceReply& rep, wire::BatchWriter& out,
                       std::vector<std::string_view>& views);

  Store* store_;
  ServiceCounters* counters_;
  Replicator* replicator_;
  Handover* handover_ = nullptr;
  // Streamed writes of an id with replicas (UPLOAD_BEGIN named them): at
  // commit the whole value goes to them as a replica's SET before the
  // commit is answered.
  struct UploadReplicas {
    std::string id;
    std::vector<std::string> replicas;
  };
  UploadReplicas TakeUploadReplicas(uint64_t handle);
  ServiceReply ForwardCommitted(const wire::Header& h, const UploadReplicas& to,
                                const WriteResult& w);
  static constexpr size_t kMaxUploadReplicas = 65536;
  std::mutex uploads_mu_;
  std::map<uint64_t, UploadReplicas> upload_replicas_;  // guarded by uploads_mu_
  // Replica uploads (ReplicaUpload) by handle: the id, the version it is
  // written at, and this worker's epoch at the begin.
  struct ReplicaUploadInfo {
    std::string id;
    uint64_t version = 0;
    uint64_t epoch = 0;
    bool pinned = false;
  };
  std::map<uint64_t, ReplicaUploadInfo> replica_uploads_;  // guarded by uploads_mu_
  // Where `id` was handed over to, while it is marked moved.
  std::optional<std::pair<std::string, std::string>> MovedTo(std::string_view id);
  struct Moved {
    std::string endpoint, node;
    std::chrono::steady_clock::time_point until;
  };
  std::atomic<size_t> moved_count_{0};
  std::mutex moved_mu_;
  std::map<std::string, Moved, std::less<>> moved_;  // guarded by moved_mu_
  // Joining: takes req.id from its previous holder when missing here.
  void PullIfJoining(const wire::Request& req);
  std::atomic<bool> joining_{false};
  // Catching up (R >= 2): after start, after a new epoch, and while copies
  // arrive (kFlagReplica writes with no sender: a hand-over or a repair).
  // Meanwhile a primary's GET or STAT of an id missing here first takes it
  // from the replicas its client named, so the id is read here from then
  // on instead of each read missing and being asked of the other copies.
  static constexpr std::chrono::seconds kCatchUpAtStart{10};
  static constexpr std::chrono::seconds kCatchUpAfterCopy{3};
  bool CatchingUp() const;
  void CatchUpFor(std::chrono::nanoseconds d);
  // A missing id taken from the other replicas of `req` (a primary's read,
  // served under their leases) while catching up.
  void PullIfCatchingUp(const wire::Request& req);
  // Neither held here nor deleted here (no tombstone): a copy may be taken.
  bool MissingHere(std::string_view id);
  // Stores a copy taken from another worker at its version, unless the id
  // was written here meanwhile.
  void KeepFetched(std::string_view id, std::string_view bytes, uint64_t version);
  std::atomic<int64_t> catch_up_until_ns_{0};  // steady clock
  mutable std::mutex join_mu_;
  std::shared_ptr<const JoinPlan> join_;  // guarded by join_mu_
  const LeaveProgress* leave_ = nullptr;
  DrainFn drain_;
  LeaseKeeper* leases_ = nullptr;
  Watches* watches_ = nullptr;
  // The most copies a request named (1 + replicas): a hand-over's R.
  std::atomic<uint32_t> replicas_seen_{1};
  const std::string endpoint_;
  // Bytes per item of the last BATCH reply, to reserve the next one's body
  // (BATCHes of one client tend to be alike). Relaxed: only a size hint.
  std::atomic<uint32_t> batch_item_bytes_{64};
  std::atomic<uint64_t> epoch_;
  // Replicated deletes' versions: "not found" replies carry the id's (in
  // version_no), and an older copy sent here is not stored.
  Tombstones tombstones_;
  AppendTokens append_tokens_;  // of replicated appends applied here
};

}  // namespace shovel::worker
