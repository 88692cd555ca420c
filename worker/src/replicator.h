// Replicator: a primary's forwarding of one write to the id's other
// replicas, before the primary applies it and answers.
//
// Each replica gets the write as a request of its own with kFlagReplica and
// the primary's version (APPEND: offset = the size the append lands at), on a
// DEALER socket of this worker's. Forward returns once every replica
// answered OK, or with the first failure: kUnavailable naming the replica
// that did not answer within the deadline or could not be reached, or the
// replica's own error. A replica whose APPEND is refused with kConflict (it
// missed writes: its size differs) is repaired: `repair` gives the blob as
// the primary holds it, the replica gets it as a SET with the blob's version,
// and the append is sent again once.
//
// Thread-safe: sockets are taken from a pool per endpoint by the calling
// thread and given back after use (closed instead when a reply is missing),
// so handler threads forward side by side. Owns its ZeroMQ context.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "shovel/protocol.h"
#include "shovel/status.h"

namespace zmq {
class context_t;
class socket_t;
}  // namespace zmq

namespace shovel::worker {

// The blob as the primary holds it, for repairing a replica: bytes, version.
struct RepairValue {
  std::string bytes;
  uint64_t version = 0;
};
using RepairFn = std::function<Result<RepairValue>()>;

// A replica that failed a forward; `endpoint` is set when it is the
// replica's fault (no answer, unreachable), so the client can route
// around it.
struct ForwardError {
  Status status;
  std::string endpoint;
};

class Replicator {
 public:
  static constexpr std::chrono::milliseconds kDeadline{1500};

  Replicator();
  ~Replicator();

  // Sends `req` (its header made a replica's: kFlagReplica, no
  // kFlagReplicas/kFlagIfVersion, version_no = `version`, offset = `offset`
  // for APPEND) to every endpoint of req.replicas and waits for all.
  // Returns nullopt-like OK status in ForwardError.status on success.
  ForwardError Forward(const wire::Request& req, uint64_t version, uint64_t offset,
                       const RepairFn& repair);

 private:
  struct Conn;
  std::unique_ptr<Conn> Take(const std::string& endpoint);
  void Give(std::unique_ptr<Conn> c);

  std::unique_ptr<zmq::context_t> ctx_;
  std::mutex mu_;
  std::multimap<std::string, std::unique_ptr<Conn>> idle_;  // guarded by mu_
  uint64_t next_request_ = 1;                               // guarded by mu_
};

}  // namespace shovel::worker
