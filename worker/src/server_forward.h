// ForwardPath: the server's I/O thread forwarding a primary's small writes
// to the replicas itself (IoScheduler's kForward), instead of a handler
// that waits for each replica in turn (Replicator::Forward).
//
// Why: with two copies a write's handler sat idle for a replica's round
// trip, so a worker had at most one replicated write in flight per handler
// and paid two thread hand-overs more per write. Here the I/O thread sends
// the write on a DEALER of its own per replica (in the server's ZeroMQ
// context), keeps the request until every replica answered, and applies and
// answers it then (Service::FinishFastWrite); many writes of different ids
// are in flight at once, and the replies of several arrive in one wake-up.
//
// Only the common case runs here (Service::PrepareFastWrite). A replica that
// answers anything but OK, takes no message now (no connection: DEALERs
// queue only on a live one), or does not answer within kDeadline fails the
// forward: the write then goes to its lane's handler, which serves it from
// the start under the full rules (a new version, repairs, epochs, leases),
// so a replica that applied the failed attempt is brought to the same bytes.
//
// Thread-compatible: the I/O thread owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "service.h"

namespace shovel::worker {

class Replicator;

class ForwardPath {
 public:
  using Message = std::vector<zmq::message_t>;
  static constexpr int64_t kDeadlineNs = 500'000'000;

  ForwardPath(zmq::context_t& ctx, Replicator& replicator, std::string node_id);
  ~ForwardPath();

  // A forward in flight, or done.
  struct Entry {
    Message msg;  // the client's request: routing id, header, id, payload...
    Service::FastWrite write;
    std::string id;
    size_t lane = 0;
    size_t left = 0;  // replicas yet to answer
    bool failed = false;
    int64_t deadline_ns = 0;
    std::chrono::steady_clock::time_point start;
  };

  // Sends `req` (decoded from `msg`) as `w` prescribes to each of
  // w.replicas. False when one cannot take it now (nothing was kept; what
  // went to the others is answered to nobody): the caller routes it to a
  // handler. `msg` is moved from only on success.
  bool Start(Message& msg, const wire::Request& req, Service::FastWrite w, size_t lane,
             int64_t now_ns);

  size_t in_flight() const { return pending_.size(); }
  // The sockets to poll for replies, appended to `items`; Collect reads
  // those of items[first...].
  void AddPollItems(std::vector<zmq::pollitem_t>& items);
  // Reads the replies the poll reported and returns the forwards that
  // ended: every replica answered OK (failed false), or one did not.
  std::vector<Entry> Collect(const std::vector<zmq::pollitem_t>& items, size_t first);
  // Forwards past their deadline, ended as failed.
  std::vector<Entry> Expired(int64_t now_ns);
  // Milliseconds until the earliest deadline (-1: none).
  int64_t NextDeadlineMs(int64_t now_ns) const;

 private:
  struct Peer {
    std::string endpoint;
    std::string server_key;
    std::unique_ptr<zmq::socket_t> socket;
  };
  Peer* PeerFor(const std::string& endpoint);
  // Takes the reply `frames` from `peer`: counts it against its forward.
  void OnReply(Peer& peer, Message& frames, std::vector<Entry>& done);

  zmq::context_t& ctx_;
  Replicator& replicator_;
  const std::string node_id_;
  std::map<std::string, Peer> peers_;
  std::vector<Peer*> polled_;          // in AddPollItems' order
  std::map<uint64_t, Entry> pending_;  // by request id (the same to each replica)
  uint64_t next_request_ = 1;
};

}  // namespace shovel::worker
