// ZapHandler: the ZeroMQ Authentication Protocol handler (ZAP, RFC 27) of a
// worker's context. libzmq asks it, over inproc://zeromq.zap.01, about every
// CURVE handshake on the worker's sockets; it answers 200 with the client's
// public key (Z85) as User-Id when the Authorizer knows the key, else 400, so
// an unknown key never completes a handshake and gets nothing.
//
// Thread-safety: Start binds the handler socket (before any CURVE server
// socket of the context binds) and runs one thread that owns it; Stop joins
// it. The Authorizer is shared with the server (thread-safe).
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "authorizer.h"
#include "shovel/status.h"

namespace zmq {
class context_t;
class socket_t;
}  // namespace zmq

namespace shovel::worker {

class ZapHandler {
 public:
  // `context` and `auth` must outlive the handler.
  static Result<std::unique_ptr<ZapHandler>> Start(zmq::context_t& context,
                                                   Authorizer* auth);
  ~ZapHandler();  // Stop()
  void Stop();

 private:
  ZapHandler() = default;
  void Run();
  Authorizer* auth_ = nullptr;
  std::unique_ptr<zmq::socket_t> socket_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace shovel::worker
