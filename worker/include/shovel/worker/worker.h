// Worker: a shoveling cache worker that can be embedded in any process (the
// shovel-worker binary and shovelfs's embedded mode both use it). Start binds
// the ZeroMQ ROUTER socket and serves on the worker's own threads until
// Stop(); worker/PROTOCOL.md describes what it answers.
//
// Thread-safety: every method is thread-safe. ApplyConfig may be called from
// any thread at any time (Consul's live config feed uses it).
// Ownership: Start returns the only owner; the destructor calls Stop().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "shovel/local_serve.h"
#include "shovel/log.h"
#include "shovel/protocol.h"
#include "shovel/status.h"
#include "shovel/worker/config.h"
#include "shovel/worker/metrics.h"

namespace shovel::worker {

struct WorkerOptions {
  std::string listen =
      "tcp://127.0.0.1:7070";  // "tcp://127.0.0.1:0" or ":*" = pick a free port
  std::string node_id;         // default "<hostname>-<port>"
  uint64_t max_memory = 1ull << 30;
  int compression_level = 1;  // zstd level; 0 = store raw
  uint64_t chunk_size = 4ull << 20;
  bool eviction = true;
  // The decoded-chunk cache (WorkerConfig): a share of max_memory, or bytes.
  int decoded_cache_percent = 10;
  uint64_t decoded_cache_bytes = 0;
  // Bytes per second each hand-over job sends (WorkerConfig::handover_rate).
  uint64_t handover_rate = kDefaultHandoverRate;
  int threads = 0;  // 0 = hardware_concurrency
  // Helper threads that decompress the zstd frames of one read on idle
  // cores alongside the handler that serves it (a 1 MiB chunk is 16
  // frames); -1 = one less than the cores, 0 = each read decompresses on
  // its handler alone.
  int decode_threads = -1;
  // ZeroMQ I/O threads (the kernel's TCP copies of client connections);
  // 0 = half the cores, at least two. A connection stays on one of them,
  // and the kernel send of large GETs (with the loopback's receive
  // processing) can keep one fully busy, so two let the client's
  // connections (see DirectCalls) be copied on two cores.
  int io_threads = 0;
  // Reply bytes queued for one connection (handed to ZeroMQ, not yet sent)
  // past which its further requests wait unread; all connections together
  // may hold a quarter of max_memory (64 MiB .. 1 GiB). A connection whose
  // replies are not taken for stuck_timeout_ms is closed.
  uint64_t reply_bytes_per_peer = 32ull << 20;
  int64_t stuck_timeout_ms = 30000;
  // TCP connections at most (0: derived from the open-files limit, leaving
  // the worker's own descriptors: limit - 64 - limit/32); past it a new
  // connection is closed at once and counted. Connections with no request
  // for idle_timeout_ms are closed (0: never).
  uint64_t max_connections = 0;
  int64_t idle_timeout_ms = 0;
  // Where the worker reports what it decided on its own (leases: fencing,
  // rejoining), one line each at its level; null: not reported. Called from
  // any thread.
  shovel::log::LogFn log;
  // Called (on a worker thread, once) a second after a DRAIN request made
  // the worker leave: it serves nothing more and its owner should end it
  // (shovel-worker does what it does on SIGTERM). Must not block or call
  // Stop(). Null: DRAIN is refused (a worker embedded in a mount).
  std::function<void()> on_drained;
  // CURVE (docs/security.md). key_file: this worker's key pair (shovelctl
  // keygen); every socket then uses CURVE: clients must present a key of
  // authorized_keys (required with key_file), peers are reached with this
  // key pair and, as their server key, the one SetPeerKey gave, else one of
  // peer_keys, else this worker's own public key. Empty: plaintext (no
  // keys at all).
  std::string key_file;
  std::string authorized_keys;
  // With key_file: the peers' public keys for a static cluster whose
  // workers do not share one key pair (a rotation), a worker key file as
  // clients read it (one key per line, '#' comments), read again when it
  // changes. A peer whose handshake fails with one listed key is tried with
  // the next (docs/security.md, Key rotation). Empty: this worker's own key.
  std::string peer_keys;
  // How long a client may use a STAT it was granted a watch with (and each
  // renewal holds) before it asks again; a change of a watched id is
  // acknowledged only once its watchers were told or their term ran out
  // (docs/shovelfs.md, Opens). 0: no watches. Writes made in-process
  // (LocalServe) are not held for watchers: a worker whose owner writes
  // through LocalServe should grant none. With a fixed address (a port
  // given, or ipc://), clients may still hold watches from this worker's
  // previous run: its clients' writes in the first term after start are
  // answered when that term ends.
  int64_t watch_term_ms = 1000;
};

// kInvalidArgument naming the field when a setting is out of range.
Status ValidateConfig(const WorkerConfig& config);

class Worker {
 public:
  // Binds and starts serving. kInvalidArgument for a bad option (named),
  // kUnavailable when the address cannot be bound.
  static Result<std::unique_ptr<Worker>> Start(const WorkerOptions& options);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  const std::string& endpoint() const;  // actual tcp://host:port
  const std::string& node_id() const;
  // Applies new settings live; lowering max_memory evicts unpinned ids down
  // to the new limit. An invalid config is ignored (ValidateConfig first).
  void ApplyConfig(const WorkerConfig& config);
  WorkerConfig config() const;
  wire::NodeStats Stats() const;
  // Leaves the cluster without losing what only this worker holds: copies
  // each id to the worker that takes its place in the id's replica set
  // over `body.members` (the live workers, this one among them) with
  // `body.replicas` copies, first while still serving, then, serving no
  // more (requests wait), what changed since; then answers every request
  // but NODE_STATS "shutting down" and gives up its leases. Blocks until
  // done, or until `timeout` (what is left is not copied, and logged).
  // kInvalidArgument when this worker is not a member or the only one.
  // Once left, returns Ok at once.
  Status Leave(const wire::HandoverBody& body, std::chrono::milliseconds timeout);
  // The members to leave by when none are given: the peers this worker
  // exchanged leases with in the last 30 s and itself, with the most
  // copies a client asked for (1 when it never saw more).
  wire::HandoverBody LeasePeers() const;
  // Joins a cluster whose ids have one copy each (`body.replicas` 1): asks
  // every other member to hand over the ids that now belong here
  // (HANDOVER), and until they have, takes a missing id from the worker
  // that held it before on its first use (docs/cache.md, Hand-over).
  // Returns at once; a thread follows the members' hand-overs (their
  // NODE_STATS) for at most 10 minutes. Does nothing when `body` lists no
  // other member or asks for more copies (leases hand those over).
  void Join(const wire::HandoverBody& body);
  // Join for a static list of workers (`--join`): asks each of `peers` its
  // node id (PING), then joins them with one copy per id; this worker is
  // known to them as `self_endpoint`. kUnavailable naming a peer that did
  // not answer within 2 s (nothing is asked then).
  Status JoinPeers(const std::vector<std::string>& peers,
                   const std::string& self_endpoint);
  // Requests served and what the store holds, for metrics (metrics.h);
  // consul_registered is left -1. Walks the store's shards (not cheap:
  // for a scrape, not per request).
  WorkerSample Sample() const;
  // This worker's CURVE public key (Z85); empty without --key-file.
  const std::string& public_key() const;
  // Reads the authorized keys again (SIGHUP); on an error the old ones stay
  // and the error says why. OK and nothing done without keys.
  Status ReloadAuthorizedKeys();
  // The CURVE public key of the peer worker at `endpoint` (from its Consul
  // registration), for this worker's connections to it.
  void SetPeerKey(const std::string& endpoint, const std::string& key);
  // Serves encoded requests in this process without a socket (give it to a
  // Client as ClientOptions::local_workers, with endpoint()): decoded,
  // validated, served and answered as by the ZeroMQ server, counted in
  // flight like its requests, on the caller's thread. After Stop() (and
  // after the Worker is destroyed: the function stays safe to call) every
  // request is answered kUnavailable naming the worker.
  wire::LocalServeFn LocalServe();
  // Stops accepting (the local path answers kUnavailable from now on),
  // finishes requests in flight, joins threads. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit Worker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shovel::worker
