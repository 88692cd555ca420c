// Worker: a shoveling cache worker that can be embedded in any process (the
// shovel-worker binary and shovelfs's embedded mode both use it). Start binds
// the ZeroMQ ROUTER socket and serves on the worker's own threads until
// Stop(); worker/PROTOCOL.md describes what it answers.
//
// Thread-safety: every method is thread-safe. ApplyConfig may be called from
// any thread at any time (Consul's live config feed uses it).
// Ownership: Start returns the only owner; the destructor calls Stop().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "shovel/local_serve.h"
#include "shovel/protocol.h"
#include "shovel/status.h"
#include "shovel/worker/config.h"

namespace shovel::worker {

struct WorkerOptions {
  std::string listen =
      "tcp://127.0.0.1:7070";  // "tcp://127.0.0.1:0" or ":*" = pick a free port
  std::string node_id;         // default "<hostname>-<port>"
  uint64_t max_memory = 1ull << 30;
  int compression_level = 1;  // zstd level; 0 = store raw
  uint64_t chunk_size = 4ull << 20;
  bool eviction = true;
  int threads = 0;  // 0 = hardware_concurrency
  // ZeroMQ I/O threads (the kernel's TCP copies of client connections);
  // 0 = half the cores, at least two. A connection stays on one of them,
  // and a 1 MiB GET's kernel send (with the loopback's receive processing)
  // keeps one 100% busy at ~6.5 GB/s: with two, and the client's
  // connections spread over both (see DirectCalls), 1 MiB GETs ran 7.5-8.3
  // GB/s on 2 cores against 6.0-6.5 with one (2 s runs, 4 in flight).
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
  // rejoining), one line each; null: not reported. Called from any thread.
  std::function<void(const std::string&)> log;
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
