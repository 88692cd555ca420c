// Server: the ZeroMQ transport of a worker. One I/O thread owns the ROUTER
// socket and moves frames; a pool of handler threads decodes, runs the
// Service (compression, decompression) and encodes. They talk over inproc
// PUSH/PULL pairs, so large frames move without copies.
//
// Where each request runs (inline on the I/O thread, on the handler of its
// id's lane, or held until what it must follow is done), when the ROUTER is
// read (at most IoScheduler::kMaxInFlight requests in flight; past that TCP
// back-pressure) and the stop and timer schedule are decided by an
// IoScheduler (io_scheduler.h); IoLoop polls, asks it, and acts.
// Reply bytes are counted per peer until ZeroMQ releases them
// (reply_budget.h): a peer that does not take its replies has its requests
// parked, then answered "busy", and is disconnected once stuck.
// A socket monitor reports each accepted TCP connection: past
// max_connections it is closed at once and counted; connections idle past
// idle_ns are closed (connections.h).
//
// Files: server.cc (Bind, Start, Stop), server_io.cc (the I/O thread),
// server_peers.cc (replies, disconnects, connection events, role check),
// server_handlers.cc (handler threads, Serve), server_forward.h (a
// primary's writes forwarded by the I/O thread), server_frames.h (frames).
//
// Thread-safety: Bind/Start/Stop from one owner thread; Stop is idempotent.
// Ownership: owns the zmq context, sockets and threads; borrows the Service
// and counters, which must outlive it.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "authorizer.h"
#include "connections.h"
#include "io_scheduler.h"
#include "reply_budget.h"
#include "service.h"
#include "shovel/status.h"
#include "watches.h"
#include "zap_handler.h"

namespace zmq {
class context_t;
class message_t;
class socket_t;
}  // namespace zmq

namespace shovel::worker {

// CURVE on the ROUTER (docs/security.md): the worker's secret key, and the
// Authorizer its ZAP handler and the per-request role check use.
struct ServerSecurity {
  std::string secret_key;  // Z85
  Authorizer* auth = nullptr;
};

struct ServerLimits {
  ReplyLimits replies;
  uint64_t max_connections = 1 << 20;  // past it new connections are closed
  int64_t idle_ns = 0;                 // close connections idle this long; 0: never
};

class Server {
 public:
  // Binds the ROUTER to `listen` ("tcp://host:0" or ":*" picks a port).
  // `io_threads` ZeroMQ I/O threads do the socket's TCP copies.
  // With `security`, the ROUTER is a CURVE server: only keys `security->auth`
  // knows complete a handshake, and each request is checked against its
  // key's role (kPermissionDenied otherwise).
  static Result<std::unique_ptr<Server>> Bind(const std::string& listen, int io_threads,
                                              const ServerSecurity* security = nullptr);
  ~Server();

  const std::string& endpoint() const { return endpoint_; }
  // Starts the I/O thread and `threads` handler threads.
  Status Start(Service* service, Store* store, ServiceCounters* counters, int threads,
               const ServerLimits& limits = {});
  // Reply bytes handed to ZeroMQ and not yet sent, all peers (any thread,
  // after Start).
  int64_t queued_reply_bytes() const { return budget_ ? budget_->total() : 0; }
  // Stops reading, answers what is in flight (bounded), joins the threads.
  void Stop();
  // Leaving the cluster (Worker::Leave), from any thread. Pause: requests
  // are no longer read (they wait in ZeroMQ's queues; what is in flight
  // finishes). Leave: every request but NODE_STATS is answered "worker X
  // is shutting down" (clients then route to the others at once).
  void Pause() { mode_.store(static_cast<int>(IoMode::kPaused)); }
  // Set once before Start: replies to changes of watched ids are held
  // until the watchers were told (watches.h). Null: nothing is held.
  void SetWatches(Watches* watches) { watches_ = watches; }
  void Leave() { mode_.store(static_cast<int>(IoMode::kLeft)); }

 private:
  class IoThread;  // the I/O loop's state and steps (server_io.cc)

  Server() = default;
  void IoLoop();
  void HandlerLoop(size_t index);
  // Decodes, runs the Service and encodes the reply after routing frame
  // msg[0]; `msg` is consumed. Used by handler threads and the I/O thread.
  void Serve(std::vector<zmq::message_t>& msg, std::vector<std::string_view>& views,
             std::vector<zmq::message_t>& reply);
  // The frames of `rep` to the peer routed by `routing` (consumed), in
  // `reply`.
  void MakeReply(zmq::message_t& routing, ServiceReply& rep,
                 std::vector<zmq::message_t>& reply);

  // Sends a reply (routing id first) to its peer, counting its bytes until
  // ZeroMQ releases them; a reply whose change watchers must hear of first
  // is held (PumpWatches sends it). I/O thread only.
  void SendReply(std::vector<zmq::message_t>& frames, int64_t now_ns);
  void SendNow(std::vector<zmq::message_t>& frames, int64_t now_ns);
  // Sends the CHANGED notices due, and the held replies whose watchers all
  // answered or ran out; forgets watches that ran out. I/O thread only.
  void PumpWatches(int64_t now_ns);
  bool holding_replies() const { return !held_replies_.empty(); }
  // A client's answer to CHANGED (`m`: routing id, header `h`, ...).
  void OnChangedAnswer(std::vector<zmq::message_t>& m, const wire::Header& h);
  // Closes the TCP connection of `peer` (ZeroMQ then drops what it queued
  // for it). I/O thread only.
  void Disconnect(const std::string& peer);
  // Handles the ROUTER monitor's events (accepted / disconnected): refuses
  // connections past the limit. I/O thread only.
  void OnMonitorEvents(ConnectionTable& conns);
  // OK when the request in `msg` (header `h`) may be served for the key
  // its connection authenticated with.
  Status Authorize(std::vector<zmq::message_t>& msg, const wire::Header& h);

  // Declared before ctx_: the free functions of replies still queued when
  // the context closes use it.
  std::unique_ptr<ReplyBudget> budget_;
  std::unique_ptr<zmq::context_t> ctx_;
  Authorizer* auth_ = nullptr;  // null: no CURVE
  Watches* watches_ = nullptr;  // null: nothing held
  struct HeldReply {
    std::vector<zmq::message_t> frames;
    Watches::Hold hold;
  };
  std::vector<HeldReply> held_replies_;  // I/O thread
  int64_t next_sweep_ns_ = 0;            // I/O thread
  std::unique_ptr<ZapHandler> zap_;      // closed before ctx_
  std::unique_ptr<zmq::socket_t> router_;
  std::unique_ptr<zmq::socket_t> monitor_;  // PAIR: the ROUTER's connection events
  ServerLimits limits_;
  std::vector<std::unique_ptr<zmq::socket_t>> to_handlers_;    // I/O thread
  std::vector<std::unique_ptr<zmq::socket_t>> from_handlers_;  // I/O thread
  std::vector<std::unique_ptr<zmq::socket_t>> handler_in_;     // handler i
  std::vector<std::unique_ptr<zmq::socket_t>> handler_out_;    // handler i
  std::string endpoint_;
  std::string inproc_;  // unique prefix of this server's inproc endpoints
  Service* service_ = nullptr;
  Store* store_ = nullptr;
  ServiceCounters* counters_ = nullptr;
  std::atomic<bool> stop_{false};
  std::atomic<int> mode_{static_cast<int>(IoMode::kServing)};
  bool started_ = false;
  std::thread io_;
  std::vector<std::thread> handlers_;
};

}  // namespace shovel::worker
