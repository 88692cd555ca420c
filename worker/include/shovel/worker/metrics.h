// What a worker did, for operators: request counts by operation and status
// with latency histograms, bytes moved, and the store's state, as one plain
// snapshot (WorkerSample). The Prometheus endpoint (metrics_endpoint.h) and
// NODE_STATS (`shovelctl stats`, `top`) both read it.
//
// RequestCounters is bumped on every serving thread with relaxed atomics: no
// lock and no allocation on the request path. A snapshot reads each counter
// on its own, so counters taken together may be a few requests apart (as a
// scrape of any live process). Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "shovel/protocol.h"
#include "shovel/status.h"

namespace shovel::worker {

inline constexpr size_t kMetricOps = wire::kMaxOp + 1;
inline constexpr size_t kMetricCodes = static_cast<size_t>(Code::kConflict) + 1;
// Upper bounds (seconds) of the latency histogram's buckets; +Inf follows.
inline constexpr std::array<double, 14> kLatencyBuckets = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
    0.01,    0.025,  0.05,    0.1,    0.25,  1.0,    5.0};

// One operation's requests.
struct OpSample {
  std::array<uint64_t, kMetricCodes> by_status{};  // replies by status code
  // Requests per bucket (not cumulative); the last one is +Inf.
  std::array<uint64_t, kLatencyBuckets.size() + 1> buckets{};
  uint64_t count = 0;
  uint64_t sum_ns = 0;  // total time served
};

struct RequestSample {
  std::array<OpSample, kMetricOps> ops;
  uint64_t bytes_in = 0;   // payload bytes of requests (values written)
  uint64_t bytes_out = 0;  // payload bytes of replies (values read)
  // The server's refusals (docs/cache.md, bounded memory): requests answered
  // "busy" (their connection's replies were not being taken), connections
  // it closed (stuck past stuck-timeout, or idle past idle-timeout), and
  // connections refused past max-connections.
  uint64_t busy = 0, disconnected = 0, refused_connections = 0;
  // GETs answered with data / with "not found".
  uint64_t hits() const;
  uint64_t misses() const;
};

// Everything one scrape shows about a worker.
struct WorkerSample {
  std::string node_id;
  RequestSample requests;
  uint64_t evictions = 0, evicted_bytes = 0;
  uint64_t mem_used = 0, mem_limit = 0;
  uint64_t raw_bytes = 0;     // sum of the blobs' sizes
  uint64_t stored_bytes = 0;  // what they take compressed (without overhead)
  uint64_t pinned_bytes = 0;
  uint64_t ids = 0, uploads = 0;
  // The decoded-chunk cache: reads of compressed chunks it answered / did
  // not, the bytes it holds (in mem_used) and may hold.
  uint64_t decoded_hits = 0, decoded_misses = 0;
  uint64_t decoded_bytes = 0, decoded_capacity = 0;
  int64_t in_flight = 0;    // requests dispatched to the handler lanes, unanswered
  int64_t connections = 0;  // TCP connections open to the worker's socket
  uint64_t malformed = 0;
  // Consul: -1 not used, 0 not registered (agent away), 1 registered.
  int consul_registered = -1;
  // Hand-overs (docs/cache.md): ids and bytes this worker copied to others
  // (to joining workers, and in its own leave), the hand-overs running, and
  // its leave's state: 0 not leaving, 1 copying, 2 final pass, 3 left.
  uint64_t handover_ids = 0, handover_bytes = 0;
  uint64_t handover_jobs = 0;
  int leave_state = 0;
};

// The request counters of one worker. Thread-safe, lock-free.
class RequestCounters {
 public:
  // One request of `op` answered with `status` after `took`.
  void Record(wire::Op op, Code status, uint64_t bytes_in, uint64_t bytes_out,
              std::chrono::nanoseconds took);
  void CountBusy() { busy_.fetch_add(1, std::memory_order_relaxed); }
  void CountDisconnected() { disconnected_.fetch_add(1, std::memory_order_relaxed); }
  void CountRefusedConnection() { refused_.fetch_add(1, std::memory_order_relaxed); }
  RequestSample Sample() const;

 private:
  struct Op {
    std::array<std::atomic<uint64_t>, kMetricCodes> by_status{};
    std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> buckets{};
    std::atomic<uint64_t> sum_ns{0};
  };
  std::array<Op, kMetricOps> ops_;
  std::atomic<uint64_t> bytes_in_{0}, bytes_out_{0};
  std::atomic<uint64_t> busy_{0}, disconnected_{0}, refused_{0};
};

// Label values: "get", "upload_data"...; "ok", "not_found"...
std::string OpLabel(wire::Op op);
std::string StatusLabel(Code code);

// The counters NODE_STATS carries (wire::NodeStats::counters) by name:
// "requests.<op>", "errors" (replies other than ok, not_found and redirect),
// "hits", "misses", "bytes_in", "bytes_out", "evictions", "evicted_bytes",
// "raw_bytes", "stored_bytes", "uploads", "in_flight", "connections",
// "busy", "disconnected", "refused_connections", "decoded_cache_hits",
// "decoded_cache_misses", "decoded_cache_bytes", "decoded_cache_capacity".
std::map<std::string, uint64_t> NamedCounters(const WorkerSample& s);

}  // namespace shovel::worker
