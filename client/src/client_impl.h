// ClientImpl: the Client behind shovel::Client::Connect.
//
// Object graph: a Membership (who the workers are), a Transport (ZeroMQ I/O
// thread), a PlacementView rebuilt on every membership change (sorted node
// ids for rendezvous hashing) and a RedirectCache for pinned ids.
// Thread-safe: the only shared mutable state is view_ (mu_) and the caches,
// each with its own lock; no lock is held during I/O.
// Lock order: alive_->mu (held while a membership change is applied), then
// mu_, a leaf (nothing else is locked while holding it).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "membership.h"
#include "redirect_cache.h"
#include "shovel/client.h"
#include "transport.h"
#include "watched_stats.h"

namespace shovel::client {

class CurveKeys;

// Where distance between a node and the data comes from (Consul
// coordinates: ConsulDistance in consul_membership.h). Returns ms, or
// nullopt when unknown. Thread-safe.
class DistanceOracle {
 public:
  virtual ~DistanceOracle() = default;
  // Between two workers (node ids).
  virtual std::optional<double> RttMs(std::string_view from_node,
                                      std::string_view to_node) = 0;
  // Between the caller (its own Consul agent node) and a worker.
  virtual std::optional<double> RttFromCallerMs(std::string_view to_node) {
    return std::nullopt;
  }
};

// An immutable snapshot of membership prepared for routing.
struct PlacementView {
  uint64_t generation = 0;
  std::vector<Member> members;        // sorted by node id
  std::vector<std::string> node_ids;  // members[i].node_id
  std::unordered_map<std::string, std::string> node_of_endpoint;
  size_t replicas = 1;  // copies of each id: ClientOptions::replicas, capped
};

struct ClientDeps {
  ClientOptions options;
  std::unique_ptr<Transport> transport;
  std::shared_ptr<Membership> membership;
  std::shared_ptr<DistanceOracle> distance;  // may be null
  std::shared_ptr<CurveKeys> curve;          // null: no CURVE
};

// One id's request in MultiSet/MultiGet before it is grouped into
// messages: an op with at most one payload frame, so building it takes no
// allocation (views into the caller's ids and values).
struct BatchItem {
  uint32_t endpoint = 0;  // index into the MultiCall's endpoint list
  wire::Header header;
  std::string_view id;
  std::string_view payload;
  bool has_payload = false;
  bool idempotent = false;
};

class ClientImpl;

// A streamed set/append (see Writer in client.h).
// `size` (0: unknown) is the total the writer will be given, sent with
// UPLOAD_BEGIN so a worker refuses a value that can never fit at once.
std::unique_ptr<Writer> NewUploadWriter(ClientImpl* client, std::string id,
                                        WriteMode mode, uint64_t size = 0);

class ClientImpl : public Client {
 public:
  explicit ClientImpl(ClientDeps deps);
  ~ClientImpl() override;

  Result<uint64_t> Set(std::string_view id, std::string_view data) override;
  Result<std::string> Get(std::string_view id, uint64_t offset, uint64_t length) override;
  // GetBytes keeps replies of at least this many bytes instead of copying.
  static constexpr size_t kZeroCopyAbove = 64 << 10;
  // ReadRange reserves the range asked for at its first bytes when it is at
  // most this (a range past the end of a small value wastes at most this).
  static constexpr uint64_t kReserveUpTo = 1ull << 20;
  Result<Bytes> GetBytes(std::string_view id, uint64_t offset, uint64_t length) override;
  Status GetTo(std::string_view id, uint64_t offset, uint64_t length,
               const std::function<Status(std::string_view)>& sink) override;
  Result<uint64_t> Append(std::string_view id, std::string_view data) override;
  Result<std::unique_ptr<Writer>> OpenWriter(std::string_view id, WriteMode mode,
                                             uint64_t size_hint = 0) override;
  Status Init(const std::vector<std::string>& ids, InitStrategy strategy,
              const ProgressFn& progress) override;
  Result<std::vector<std::string>> NodeIds(std::string_view id) override;
  Result<std::string> NodeId(std::string_view id, std::string_view strategy) override;
  Result<std::optional<double>> NodeCacheScore(std::string_view node,
                                               std::string_view id) override;
  Status Delete(std::string_view id) override;
  Result<BlobStat> Stat(std::string_view id) override;
  Result<BlobStat> WatchedStat(std::string_view id) override;
  // kFlagWatch when a SET or STAT to `view` may ask for a watch (one copy
  // per id, workers that know watches), else 0.
  uint16_t WatchFlag(const PlacementView& view) const;
  // A reply to a request sent with WatchFlag: keeps its StatBody while the
  // watch it was granted holds. A kProtocol error means the worker knows
  // no watches: true, and later requests ask for none (send it again
  // without the flag).
  bool RefusedWatch(const Result<ResponsePtr>& r);
  void KeepWatched(std::string_view id, const Response& r, uint64_t generation);
  Result<bool> Exists(std::string_view id) override;
  Result<VersionedBytes> GetWithVersion(std::string_view id, uint64_t offset,
                                        uint64_t length) override;
  Result<NameInfo> StatName(std::string_view id) override;
  Result<ListPage> List(std::string_view prefix, std::string_view cursor, uint32_t limit,
                        bool delimiter) override;
  Status Rename(std::string_view from, std::string_view to) override;
  Status SetAttrs(std::string_view id, const std::map<std::string, std::string>& set,
                  const std::vector<std::string>& drop) override;
  std::vector<Result<uint64_t>> MultiSet(
      const std::vector<std::pair<std::string, std::string>>& items) override;
  std::vector<Result<std::string>> MultiGet(const std::vector<std::string>& ids) override;
  std::unique_ptr<Pending<uint64_t>> StartMultiSet(
      std::vector<std::pair<std::string, std::string>> items) override;
  std::unique_ptr<Pending<std::string>> StartMultiGet(
      std::vector<std::string> ids) override;
  Result<std::vector<NodeInfo>> Members() override;
  Status Drain(std::string_view node) override;

  // ---- For the Writer and the other parts of the implementation ----------
  const ClientOptions& options() const { return options_; }
  Transport& transport() { return *transport_; }
  std::shared_ptr<const PlacementView> View();
  // A request for `op` with the default deadline and idempotence by op.
  OutRequest MakeRequest(wire::Op op, std::string_view id, uint16_t flags = 0) const;
  // Where requests for `id` go: its home (rank 0), or the best-ranked member
  // whose Consul check is not critical; kUnavailable without members.
  Result<std::string> HomeEndpoint(std::string_view id);
  Result<std::string> HomeEndpoint(std::string_view id, const PlacementView& view);
  // Where a request for `id` goes first: the worker a cached redirect names,
  // else its home. kUnavailable without members.
  Result<std::string> FirstEndpoint(std::string_view id, const PlacementView& view);
  // True when routing avoids members[k]: Consul says its check is critical,
  // or this client found it down (Transport::IsDown; a PING, at most one per
  // kProbeEvery, then readmits it when it answers).
  bool Avoid(const PlacementView& view, size_t k);
  static constexpr std::chrono::milliseconds kProbeEvery{300};
  // The id's replica set as indexes into view.members: the first
  // view.replicas members of its rendezvous order that are not avoided,
  // primary first (the home alone when every member is avoided). With
  // `passed`, the avoided members that would be in it were all up.
  std::vector<size_t> ReplicaSet(std::string_view id, const PlacementView& view,
                                 std::vector<size_t>* passed = nullptr);
  // Sends `req` (req.id is the id) to where the id lives, following and
  // caching redirects. Returns the reply whose status is OK, or its error.
  Result<ResponsePtr> CallId(const OutRequest& req);
  std::string NodeOf(const std::string& endpoint);

 private:
  friend class ListMerger;
  // What a primary's reply said beside its status (kFlagReplicas writes).
  struct PrimaryNotes {
    bool replica_failed = false;  // a replica did not answer (marked down)
    uint64_t epoch = 0;           // the primary's epoch (reply aux), 0: none
    // The reply's version_no: of a "not found", the version the id was
    // deleted at there (0: none remembered).
    uint64_t version = 0;
    // A worker the request passed over that still holds a lease (the
    // primary refused to serve in its place): payload[2].
    std::string live_primary;
  };
  // Sends `req` to `endpoint`, following redirects. For a kFlagReplicas
  // write, an error reply that names a replica that did not answer (a
  // primary's kUnavailable with the replica's endpoint in payload[1]) marks
  // that replica down; `notes` gets what the reply said.
  Result<ResponsePtr> CallIdOnce(const OutRequest& req, std::string endpoint,
                                 uint64_t generation, PrimaryNotes* notes = nullptr);
  // CallId without a cached redirect: to the id's primary, as a primary's
  // write (kFlagReplicas) when the id has replicas; once more, to the next
  // primary, when the worker failed (see client_failover.cc).
  // `view` is replaced by a newer one when a worker it lacks is in the way.
  Result<ResponsePtr> CallPrimary(const OutRequest& req,
                                  std::shared_ptr<const PlacementView> view);
  // A GET or STAT that the primary answered kNotFound, asked of the id's
  // other replicas in order (a primary that restarted empty).
  // A copy whose version is not above `deleted_at` (the primary deleted the
  // id then) is not taken.
  Result<ResponsePtr> ReadFromReplicas(const OutRequest& req, const PlacementView& view,
                                       Result<ResponsePtr> miss, uint64_t deleted_at);
  // A read that no live copy answered: kNotFound stays when a worker that
  // would hold the id is up, else kUnavailable naming the workers (the id
  // may well exist there), or a holder's handshake error (kPermissionDenied:
  // it listens again but refuses this client's keys, or its key is not
  // one the client has).
  Result<ResponsePtr> NotFoundOrDown(std::string_view id, const PlacementView& view,
                                     Result<ResponsePtr> miss);
  // NotFoundOrDown's look at a down holder that accepts a TCP connection
  // again: the connect's and the PING's waits.
  static constexpr std::chrono::milliseconds kCauseConnectWait{100};
  static constexpr std::chrono::milliseconds kCauseWait{1000};
  // PINGs `endpoint` (at most once per kProbeEvery unless `now`); with
  // `wait`, returns whether it answered within kProbeWait.
  bool Probe(const std::string& endpoint, bool now = false, bool wait = false);
  static constexpr std::chrono::milliseconds kProbeWait{300};
  // A worker's epoch as its last reply gave it (0: not known); replicated
  // writes carry it so a worker refuses a write sent before it rejoined.
  uint64_t KnownEpoch(const std::string& endpoint);
  void SetKnownEpoch(const std::string& endpoint, uint64_t epoch);
  // The version and blob size a StreamGet read from.
  struct GetInfo {
    uint64_t version = 0;
    uint64_t size = 0;
  };
  // Sends the range to `sink` piece by piece. With `whole` set, a range
  // that arrives in one reply of at most one payload frame is not sunk but
  // handed back in *whole (its payload, if any, is reply.payload[0]).
  // StreamGet into *out, started again (up to 5 times) when the value
  // changed under a multi-part read (kConflict). `info` and `whole` as in
  // StreamGet; with *whole set, *out is empty.
  Status ReadRange(std::string_view id, uint64_t offset, uint64_t length,
                   std::string* out, GetInfo* info = nullptr,
                   ResponsePtr* whole = nullptr);
  Status StreamGet(std::string_view id, uint64_t offset, uint64_t length,
                   const std::function<Status(std::string_view)>& sink, bool* sunk_any,
                   GetInfo* info = nullptr, ResponsePtr* whole = nullptr);
  Result<BlobStat> StatFromReply(std::string_view id, const Response& r);
  Result<uint64_t> WriteSmall(wire::Op op, std::string_view id, std::string_view data);
  Result<std::vector<NodeInfo>> Stats(const PlacementView& view);
  // One item's reply, out of a BATCH (or out of its own message). Views into
  // the message, valid only while the ItemSink runs.
  struct ItemReply {
    const std::string* endpoint;
    wire::Reply reply;
    Status Error() const;  // like ReplyError
  };
  using ItemSink = std::function<void(size_t k, Result<const ItemReply*> r)>;
  // Sends `items` grouped by endpoint into BATCH messages (items that cannot
  // be batched, or alone for their endpoint, go as messages of their own)
  // and returns. FinishBatched waits for all, then calls sink(k, ...) once
  // for each items[k] (in no set order): its reply (OK or error), or the
  // error of the message that carried it. A worker that answers a BATCH with
  // kProtocol (one that predates it) gets those requests again one by one.
  struct BatchedSend;
  // `lists` (optional, one per endpoint): a non-empty entry is the
  // kFlagReplicas list its messages carry (reads served as the primary).
  std::shared_ptr<BatchedSend> SendBatched(
      const std::vector<BatchItem>& items, const std::vector<std::string>& endpoints,
      const std::vector<std::string>* lists = nullptr);
  void FinishBatched(BatchedSend& sent, const std::vector<BatchItem>& items,
                     const std::vector<std::string>& endpoints, const ItemSink& sink);
  // A single-message request for `item` (payload views into the item's).
  OutRequest ItemRequest(const BatchItem& item) const;
  // Index in `endpoints` of where a request for `id` goes first (as
  // FirstEndpoint), adding it if new; `slots` maps view.members to indices.
  std::optional<uint32_t> EndpointSlot(std::string_view id, const PlacementView& view,
                                       std::vector<std::string>& endpoints,
                                       std::vector<int32_t>& slots);
  // With replicas: the index of the pair (primary of `id`, its kFlagReplicas
  // list) in `endpoints`/`lists`, adding it if new (`keyed` maps pairs to
  // indices); a redirected id gets its endpoint with no list.
  std::optional<uint32_t> ListedSlot(std::string_view id, const PlacementView& view,
                                     std::vector<std::string>& endpoints,
                                     std::vector<std::string>& lists,
                                     std::unordered_map<std::string, uint32_t>& keyed);
  // MultiSet/MultiGet from sending to results (client_multi.cc).
  template <typename T>
  class MultiCall;
  class PendingSets;
  class PendingGets;
  void OnMembershipChange();
  // What the membership's listener calls through (see the constructor).
  struct Alive {
    explicit Alive(ClientImpl* c) : self(c) {}
    std::mutex mu;  // held during a listener call; a leaf besides mu_
    ClientImpl* self;
  };
  const std::shared_ptr<Alive> alive_ = std::make_shared<Alive>(this);

  const ClientOptions options_;
  std::unique_ptr<Transport> transport_;
  std::shared_ptr<Membership> membership_;
  bool keyed_ = false;  // CURVE on (ClientDeps::curve): NotFoundOrDown asks
  std::shared_ptr<DistanceOracle> distance_;
  RedirectCache redirects_;
  WatchedStats watched_;
  // A worker refused kFlagWatch (one older than watches): plain Stats.
  std::atomic<bool> watches_refused_{false};
  std::mutex mu_;
  std::shared_ptr<const PlacementView> view_;  // guarded by mu_
  // Endpoint -> when it was last probed. probe_mu_ is a leaf.
  std::mutex probe_mu_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> probed_;
  // Epochs, guarded by epoch_mu_ (a leaf; never held across a Send).
  std::mutex epoch_mu_;
  std::unordered_map<std::string, uint64_t> epochs_;
};

// Human-readable error of a reply status (kOk -> OK).
Status ReplyError(const Response& r);

}  // namespace shovel::client
