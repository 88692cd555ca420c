// shovel::Client: the public C++ API of the shoveling cache.
//
// A Client finds the workers (a static list, or Consul), places every id on
// a worker (rendezvous hashing; ids made by Init are pinned where Init put
// them and found through a pointer record at their hash home), and sends
// requests over ZeroMQ with many in flight and a deadline on each.
//
// Thread-safety: a Client is thread-safe; any number of threads may call any
// method at once (that is how callers get many requests in flight). Writers
// and Readers are not thread-safe; use each from one thread at a time.
// Ownership: Connect returns a unique_ptr; Writers/Readers must be destroyed
// before their Client.
//
// Errors (every method): kInvalidArgument for an id that breaks the id rules
// (message names the rule); kUnavailable when the worker that owns the id
// cannot be reached; kTimeout when the deadline passed; kNoSpace when the
// owning worker's memory limit cannot fit the write; kNotFound for a missing
// id (get, stat, delete, node_ids...). Nothing already stored is damaged by
// a failed call.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shovel/local_serve.h"
#include "shovel/protocol.h"
#include "shovel/status.h"

namespace shovel {

inline constexpr uint64_t kWholeBlob = UINT64_MAX;  // Get length: to the end

// A worker in this very process (shovel::worker::Worker::LocalServe() makes
// `serve`). Requests for `endpoint` are served by calling `serve` on the
// calling thread: no socket, no thread hop, the same wire codec, statuses and
// error texts as over ZeroMQ. Such a request has no deadline (it runs to the
// end, as a local call does) and is never retried.
struct LocalWorker {
  std::string endpoint;  // the worker's ZeroMQ endpoint, as in `workers`
  wire::LocalServeFn serve;
};

struct ClientOptions {
  // Static membership: ZeroMQ endpoints, e.g. {"tcp://127.0.0.1:7070"}.
  // Empty and consul_addr empty: taken from SHOVEL_WORKERS (comma-separated),
  // else CONSUL_HTTP_ADDR.
  std::vector<std::string> workers;
  // Consul agent address ("http://127.0.0.1:8500"); membership is then the
  // registered workers of `service_name`.
  // Also "host:port" or "unix:///path". Membership follows a blocking watch:
  // workers whose check is critical are routed around; when Consul is
  // unreachable the last known membership stays and one line says so on
  // stderr. CONSUL_HTTP_TOKEN / CONSUL_HTTP_TOKEN_FILE give the ACL token.
  // Network coordinates feed NodeCacheScore and NodeId(id, "nearest").
  std::string consul_addr;
  std::string service_name = "shoveling";
  // Consul KV prefix of the cluster's settings (<kv_prefix>/config/...).
  std::string kv_prefix = "shoveling";
  // Deadline of one request (a large value is many requests).
  std::chrono::milliseconds deadline{5000};
  // Bytes per streamed message for large set/get/append.
  uint64_t stream_chunk = 4ull << 20;
  // In-process workers. Membership is unchanged by them: with `workers` and
  // `consul_addr` both empty their endpoints are the static membership,
  // otherwise they are members only when listed or registered there. Other
  // endpoints go over ZeroMQ.
  std::vector<LocalWorker> local_workers;
  // Keep multi-MiB message buffers warm: Connect calls
  // KeepLargeBuffersWarm() (shovel/alloc.h: glibc's mmap threshold 32 MiB,
  // trim threshold 512 MiB, process-wide), so values and stream chunks are
  // received into reused heap memory, not into fresh pages mapped and
  // unmapped per message, which costs large GETs dearly. The worker and
  // shovelfs do the same. False leaves the program's allocator alone.
  bool tune_allocator = true;
  // ZeroMQ I/O threads, which do the kernel's TCP copies (1-16). With two,
  // the connections of concurrent large requests (one per caller) are
  // copied on two cores; small requests gain nothing from more.
  int io_threads = 2;
  // Copies of each id (1-8): its primary, which orders every write and
  // forwards it to the others before it answers, and R-1 replicas, the next
  // live workers in the id's rendezvous order. Capped by the number of
  // workers. 0: SHOVEL_REPLICAS if set, else the cluster's setting (Consul
  // KV <kv_prefix>/config/replicas, followed live), else kDefaultReplicas.
  uint32_t replicas = 0;
  // With a static list (`workers` or SHOVEL_WORKERS): Connect first makes a
  // TCP connection to each worker (at most min(deadline, 1 s), all at once)
  // and fails at once, naming the cause, when a host name does not resolve
  // (kInvalidArgument) or no worker can be reached (kUnavailable:
  // "connection refused"...). False: a dead cluster is found by the first
  // request's deadline, and a client may start before its workers.
  bool check_reachable = false;
  // CURVE (docs/security.md). The file of this client's key pair
  // (shovelctl keygen); empty: $SHOVEL_KEY_FILE, else no key (plaintext,
  // which a worker started with --key-file refuses).
  std::string key_file;
  // The workers' public key (40 Z85 characters), for every worker whose
  // Consul registration has no Meta curve_key (a static list has none);
  // empty: $SHOVEL_WORKER_KEY. Needed with key_file and a static list.
  // Anything else names a worker key file (one public key per line, `#`
  // comments): read again when it changes (at most once a second) and at
  // once when a worker fails the handshake; a worker that rejects one
  // listed key is tried with the next, so a long-lived client follows a
  // rotation (docs/security.md, Key rotation).
  std::string worker_key;
  // False: key_file and worker_key as given, never from the environment.
  // For an embedded mount's worker, which listens without CURVE on a socket
  // only its owner can reach: SHOVEL_KEY_FILE, meant for a cluster, must
  // not turn CURVE on toward it (it could never connect).
  bool keys_from_environment = true;
  static constexpr uint32_t kDefaultReplicas = 1;
  static constexpr uint32_t kMaxReplicas = 8;
};

// What Stat returns.
struct BlobStat {
  std::string id;
  uint64_t size = 0;
  uint64_t stored_bytes = 0;                         // compressed bytes held in memory
  uint64_t version = 0;                              // changes on every write
  int64_t ctime_ns = 0, mtime_ns = 0, atime_ns = 0;  // Unix epoch, ns
  bool pinned = false;
  std::vector<std::string> holders;          // node ids, primary first
  std::map<std::string, std::string> attrs;  // mode, uid, gid, user xattrs
};

// What GetWithVersion returns: a range and the version it was read from.
struct VersionedBytes {
  std::string data;
  uint64_t version = 0;  // the blob version the bytes come from
  uint64_t size = 0;     // the whole blob's size at that version
};

// Bytes read from the cache (what GetBytes returns). Move-only, and cheap
// to move. A range that arrived in one reply (any value up to
// ClientOptions::stream_chunk, 4 MiB by default) stays in the buffer it was
// received into: no copy is made. Thread-safety: like a const std::string.
class Bytes {
 public:
  Bytes() = default;
  explicit Bytes(std::string s) {
    auto owned = std::make_shared<const std::string>(std::move(s));
    data_ = owned->data();
    size_ = owned->size();
    owner_ = std::move(owned);
  }
  // `data` stays valid while `owner` lives.
  Bytes(std::shared_ptr<const void> owner, const char* data, size_t size)
      : owner_(std::move(owner)), data_(data), size_(size) {}
  Bytes(Bytes&& o) noexcept
      : owner_(std::move(o.owner_)),
        data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)) {}
  Bytes& operator=(Bytes&& o) noexcept {
    owner_ = std::move(o.owner_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    return *this;
  }
  Bytes(const Bytes&) = delete;
  Bytes& operator=(const Bytes&) = delete;

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {data_, size_}; }
  operator std::string_view() const { return view(); }
  std::string ToString() const { return std::string(view()); }  // a copy

 private:
  std::shared_ptr<const void> owner_;  // keeps data_ alive
  const char* data_ = nullptr;
  size_t size_ = 0;
};

// What StatName returns: what a name is in the '/' namespace.
struct NameInfo {
  std::optional<BlobStat> stat;  // set when the id exists
  bool has_children = false;     // some id starts with `id + "/"`
};

// One worker as the client sees it.
// One worker as the client sees it: what the worker reports of itself
// (wire::NodeStats, its NODE_STATS reply: cores, memory, ids, load,
// counters since start by name as in worker/PROTOCOL.md, hand-over and
// leave progress; left at zero for a worker that did not answer), and what
// membership says of it.
struct NodeInfo : wire::NodeStats {
  bool healthy = true;      // false when Consul says critical / unreachable
  std::string consul_node;  // empty without Consul
  // Consul's check status ("passing", "warning", "critical", "maintenance");
  // empty without Consul.
  std::string consul_health;
};

enum class InitStrategy { kUniformNodes, kUniformCpu, kUniformMemory };
// "uniform_nodes" | "uniform_cpu" | "uniform_memory"; anything else is
// kInvalidArgument listing the valid names.
Result<InitStrategy> ParseInitStrategy(std::string_view name);
std::string_view InitStrategyName(InitStrategy s);

// A page of List. Entries are sorted; with `delimiter` the names are relative
// to the prefix and a name ending in '/' is a sub-namespace ("directory").
struct ListPage {
  std::vector<std::string> ids;
  std::string next_cursor;  // empty when this is the last page
};

// Streams a large value to the cache. Nothing is visible until Commit; a
// destroyed, uncommitted Writer aborts and the old value stays whole.
class Writer {
 public:
  virtual ~Writer() = default;
  virtual Status Write(std::string_view data) = 0;
  // Makes the value visible atomically; returns the new version.
  virtual Result<uint64_t> Commit() = 0;
  virtual void Abort() = 0;
};

enum class WriteMode { kSet, kAppend };

// Requests that Client::StartMultiSet / StartMultiGet sent and nobody has
// waited for yet. Wait blocks until every outcome is in (about the deadline
// at most; ids that need a second round trip, a redirected one or a value
// too large for a BATCH, are then fetched one by one before it returns) and
// gives them in request order; a second Wait gives errors. Not thread-safe:
// one thread waits for a Pending, though many may start them. A Pending must
// not outlive its Client; dropping it unwaited leaves its requests to
// finish unobserved.
template <typename T>
class Pending {
 public:
  virtual ~Pending() = default;
  virtual std::vector<Result<T>> Wait() = 0;
};

// A Pending whose results are known when it is made.
template <typename T>
class ReadyPending final : public Pending<T> {
 public:
  explicit ReadyPending(std::vector<Result<T>> results) : results_(std::move(results)) {}
  std::vector<Result<T>> Wait() override {
    std::vector<Result<T>> out = std::move(results_);
    results_.assign(out.size(),
                    Status::InvalidArgument("the results were already taken"));
    return out;
  }

 private:
  std::vector<Result<T>> results_;
};

// Called by Init with (done, total) every so often (for progress bars).
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

class Client {
 public:
  static Result<std::unique_ptr<Client>> Connect(const ClientOptions& options);
  virtual ~Client() = default;

  // Replaces the value atomically (readers see old or new, never a mix).
  // Values larger than stream_chunk are streamed. Returns the new version.
  virtual Result<uint64_t> Set(std::string_view id, std::string_view data) = 0;
  // Whole value (length kWholeBlob) or a range; a range past the end is
  // truncated like pread. The bytes returned are from one version.
  virtual Result<std::string> Get(std::string_view id, uint64_t offset = 0,
                                  uint64_t length = kWholeBlob) = 0;
  // Like Get, without copying a range that arrived in one reply (see Bytes):
  // one memcpy of the value less per call. The default calls Get;
  // implementations override it.
  virtual Result<Bytes> GetBytes(std::string_view id, uint64_t offset = 0,
                                 uint64_t length = kWholeBlob) {
    SHOVEL_ASSIGN_OR_RETURN(std::string data, Get(id, offset, length));
    return Bytes(std::move(data));
  }
  // Streams a range to `sink` piece by piece (a 4 GiB get never holds 4 GiB).
  // `sink` returning non-OK stops the transfer with that status.
  virtual Status GetTo(std::string_view id, uint64_t offset, uint64_t length,
                       const std::function<Status(std::string_view)>& sink) = 0;
  // Like Get, and also returns the version the bytes are from and the blob's
  // size, in the same round trip (a GET reply carries both). The default
  // makes a Stat and a Get (not atomic); implementations override it.
  virtual Result<VersionedBytes> GetWithVersion(std::string_view id, uint64_t offset,
                                                uint64_t length) {
    SHOVEL_ASSIGN_OR_RETURN(BlobStat st, Stat(id));
    SHOVEL_ASSIGN_OR_RETURN(std::string data, Get(id, offset, length));
    return VersionedBytes{std::move(data), st.version, st.size};
  }
  // Appends atomically; creates the id if missing. Returns the new version.
  virtual Result<uint64_t> Append(std::string_view id, std::string_view data) = 0;
  // Streaming set/append. `size_hint` (0: unknown) is the total that will
  // be written, when known: a worker then refuses at once, with kNoSpace,
  // a value that could never fit, before it has evicted anything.
  virtual Result<std::unique_ptr<Writer>> OpenWriter(std::string_view id, WriteMode mode,
                                                     uint64_t size_hint = 0) = 0;

  // Pre-creates empty, pinned ids spread exactly over the live workers.
  // Existing ids are left as they are (and pinned where they are).
  virtual Status Init(const std::vector<std::string>& ids, InitStrategy strategy,
                      const ProgressFn& progress = nullptr) = 0;

  // Node ids of the workers holding the data, primary first.
  virtual Result<std::vector<std::string>> NodeIds(std::string_view id) = 0;
  // Best worker to process the id. Strategies: "default" (a holder, least
  // loaded if several), "least_loaded" (any live worker), "nearest" (the
  // holder nearest the caller; needs Consul coordinates).
  virtual Result<std::string> NodeId(std::string_view id,
                                     std::string_view strategy = "default") = 0;
  // Network distance between `node` and the data in ms: 0 when `node` holds
  // it; otherwise the estimated RTT to the nearest holder from Consul
  // coordinates; std::nullopt when coordinates are unknown (no Consul).
  virtual Result<std::optional<double>> NodeCacheScore(std::string_view node,
                                                       std::string_view id) = 0;

  virtual Status Delete(std::string_view id) = 0;
  virtual Result<BlobStat> Stat(std::string_view id) = 0;
  // A Stat that may be answered without a round trip. The first asks the
  // worker to watch the id for this client; until the watch ends, the
  // worker tells this client of any change of the id before it
  // acknowledges the change to its writer, so the answer kept here is what
  // a Stat would return, or older only by a change not yet acknowledged
  // (close-to-open; docs/shovelfs.md, Opens). A plain Stat with more than
  // one copy per id, and against workers without watches.
  virtual Result<BlobStat> WatchedStat(std::string_view id) { return Stat(id); }
  virtual Result<bool> Exists(std::string_view id) = 0;
  // Stat of `id` (kNotFound is not an error here) and whether any id lies
  // under `id + "/"`, with the STAT and a one-name LIST in flight together:
  // one round trip (file systems: is a name a file, a directory or missing).
  // The default makes the two calls one after the other.
  virtual Result<NameInfo> StatName(std::string_view id) {
    NameInfo out;
    Result<BlobStat> st = Stat(id);
    if (st.ok()) {
      out.stat = *std::move(st);
    } else if (!st.status().IsNotFound()) {
      return st.status();
    }
    SHOVEL_ASSIGN_OR_RETURN(ListPage page, List(std::string(id) + "/", "", 1, false));
    out.has_children = !page.ids.empty();
    return out;
  }
  // Ids starting with `prefix`, sorted, merged over all workers, paged.
  // `delimiter`: return the names directly under `prefix` (which then must be
  // "" or end in '/'), with sub-namespaces as "name/".
  virtual Result<ListPage> List(std::string_view prefix, std::string_view cursor = "",
                                uint32_t limit = 1000, bool delimiter = false) = 0;
  // Renames; replaces an existing `to`. Works across workers.
  virtual Status Rename(std::string_view from, std::string_view to) = 0;
  // Sets attributes (mode, uid, gid, times, user xattrs) and removes `drop`.
  virtual Status SetAttrs(std::string_view id,
                          const std::map<std::string, std::string>& set,
                          const std::vector<std::string>& drop = {}) = 0;

  // Many requests in flight from one thread (pipelining).
  virtual std::vector<Result<uint64_t>> MultiSet(
      const std::vector<std::pair<std::string, std::string>>& items) = 0;
  virtual std::vector<Result<std::string>> MultiGet(
      const std::vector<std::string>& ids) = 0;
  // MultiSet / MultiGet that return once the requests are sent, so that one
  // thread keeps many in flight (as one event loop keeps many connections
  // busy) and waits for each when it needs the outcome; the Pending keeps
  // the items. A single Get or Set is a list of one. The default waits at
  // once (an implementation without pipelining). By value: a pipelining
  // implementation keeps the items, so the defaults copy what they need not.
  virtual std::unique_ptr<Pending<uint64_t>> StartMultiSet(
      // NOLINTNEXTLINE(performance-unnecessary-value-param)
      std::vector<std::pair<std::string, std::string>> items) {
    return std::make_unique<ReadyPending<uint64_t>>(MultiSet(items));
  }
  virtual std::unique_ptr<Pending<std::string>> StartMultiGet(
      // NOLINTNEXTLINE(performance-unnecessary-value-param)
      std::vector<std::string> ids) {
    return std::make_unique<ReadyPending<std::string>>(MultiGet(ids));
  }

  // The workers and their stats (asks each one).
  virtual Result<std::vector<NodeInfo>> Members() = 0;
  // Starts the leave of worker `node` (node id or endpoint): it copies each
  // id it holds to the worker that takes its place in the id's replica
  // set (over the live workers this client knows), stops serving, and its
  // process ends. Returns once it has begun; Members() shows its progress
  // (leave_state). kInvalidArgument: no such worker, it is the only one,
  // or it runs inside a mount.
  virtual Status Drain(std::string_view node) {
    return Status::Internal("this client cannot drain workers");
  }
};

}  // namespace shovel
