// DirectCalls: synchronous requests on DEALER sockets of their own.
//
// The transport's I/O thread owns its sockets, so a request normally crosses
// two thread hand-overs on the way out (caller -> I/O thread -> ZeroMQ's
// I/O thread) and two on the way back. For large requests those hand-overs
// and the two shared connections per worker are the limit (docs/cache.md,
// "Threads and connections"; docs/performance.md). A DirectCalls caller takes an idle
// socket to the endpoint (or connects a new one), sends, waits on it for
// its reply and puts it back: no hand-over but ZeroMQ's own.
//
// Small requests under high concurrency are better off on the I/O thread:
// there many of them share one connection and one write, fewer wake-ups
// than a socket each. ZmqTransport::Call
// decides (large requests, or few calls in progress, come here).
//
// Errors, as the I/O thread gives them: kUnavailable "cannot reach worker X
// (no connection within N ms)" when no connection came up before the
// deadline (or, for a worker found down, within DownEndpoints::kRecheck), kTimeout
// "worker X did not answer within N ms", kInvalidArgument for an endpoint ZeroMQ cannot
// parse, the reply's decoding error with "bad reply from X". A socket whose call failed
// is closed (linger 0, so ZeroMQ lets go of lent bytes), never reused. A
// worker that closes the connection while a call waits on it (its process
// died) fails the call at once with DisconnectedError (ConnectionWatch),
// unless its reply had already come.
//
// Bulk writes: requests that carry a large value take sockets that carry
// nothing else. With BBR congestion control (many kernels' default, this
// machine's too) a connection may keep about twice "bandwidth x minimum
// round trip" in flight, and it lowers that estimate while the connection
// carries only small requests, so large SETs on sockets that had just
// carried a phase of GETs were slower than on fresh ones; on sockets of
// their own they keep a bulk transfer's estimate.
//
// Thread-safety: Call may run on any number of threads at once. Sockets are
// used by one caller at a time; the destructor closes the idle ones and
// must not run while a Call is in progress.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>
#include <zmq.hpp>

#include "connection_watch.h"
#include "down_endpoints.h"
#include "transport.h"

namespace shovel::client {

class CurveKeys;

class DirectCalls {
 public:
  // `configure` sets a new socket's options before it connects; `down`
  // (shared with the transport's I/O thread) shortens the wait for a
  // connection to a worker found down.
  // `configure(socket, endpoint)` also sets CURVE options (from `keys`,
  // null without CURVE); a handshake that fails fails the call at once
  // (HandshakeError). An idle socket made with a worker key that `keys` no
  // longer gives is closed, not used.
  using Configure = std::function<void(zmq::socket_t&, const std::string&)>;
  DirectCalls(zmq::context_t& context, Configure configure, DownEndpoints* down,
              CurveKeys* keys);
  ~DirectCalls();
  DirectCalls(const DirectCalls&) = delete;
  DirectCalls& operator=(const DirectCalls&) = delete;

  // Sends `frames` (a request whose header carries `request_id`) and waits
  // for the reply with that id. With `idempotent` the request is sent once
  // more at half the deadline if no reply came (whichever reply comes first
  // wins). A `bulk_write` (a request carrying a large value) takes a socket
  // from a pool of its own: see "Bulk writes" above.
  Result<ResponsePtr> Call(const std::string& endpoint,
                           std::vector<zmq::message_t> frames, uint64_t request_id,
                           std::chrono::milliseconds deadline, bool idempotent,
                           bool bulk_write = false);

  // Idle sockets kept per endpoint and pool; more are closed when given back.
  static constexpr size_t kMaxIdle = 8;

 private:
  // A socket and its place in the order sockets to its endpoint were made.
  // Callers take the oldest idle one: sockets made one after another sit on
  // the worker's I/O threads in turn, so a few concurrent callers get
  // connections on different threads (taking the most recently returned
  // ones left that to chance: half the time four of them shared a thread).
  struct Pooled {
    uint64_t seq = 0;
    std::unique_ptr<zmq::socket_t> socket;
    std::unique_ptr<ConnectionWatch> watch;  // null if it could not be set up
    uint64_t key_generation = 0;             // CurveKeys::generation() when made
    std::string server_key;                  // the worker's CURVE key it was made with
  };

  // An idle socket from `endpoint`'s bulk-write pool (`bulk`) or its other
  // one, or a new one connected before `until` if it can be (at most 100 ms
  // of it): new sockets connect one at a time, so that the worker, which
  // puts a connection on its least loaded I/O thread, has counted the last
  // one before it places the next (connections made at once all went to
  // one of its threads). Null for a bad endpoint.
  Pooled Take(const std::string& endpoint, bool bulk,
              std::chrono::steady_clock::time_point until);
  void Give(const std::string& endpoint, bool bulk, Pooled s);

  zmq::context_t& context_;
  Configure configure_;
  CurveKeys* const keys_;  // null: no CURVE
  const bool have_key_;
  DownEndpoints* const down_;
  std::mutex mu_;  // never held while connecting
  // Idle sockets of an endpoint, keyed by seq: those that carry bulk
  // writes and the others.
  using Idle = std::map<uint64_t, Pooled>;
  struct Pools {
    Idle bulk, other;
    Idle& of(bool is_bulk) { return is_bulk ? bulk : other; }
  };
  std::unordered_map<std::string, Pools> idle_;  // by endpoint; guarded by mu_
  // Per endpoint, held while a new socket to it connects (an unreachable
  // worker delays only its own callers). The map is guarded by mu_; a
  // mutex, once made, lives as long as this object.
  std::unordered_map<std::string, std::unique_ptr<std::mutex>> connect_mu_;
  std::atomic<uint64_t> next_seq_{0};
};

}  // namespace shovel::client
