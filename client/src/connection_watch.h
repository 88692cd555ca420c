// ConnectionWatch: tells when a DEALER socket's connection to its worker
// closed.
//
// A ZeroMQ socket hides its connections: when a worker dies (its process
// killed, its host gone), the requests already sent on the connection get
// no reply, and without this their callers waited for the whole deadline.
// The kernel closes a dead process's sockets at once, and ZeroMQ reports it
// on the socket's monitor (ZMQ_EVENT_DISCONNECTED); a watch is that monitor
// and the PAIR socket that reads it, to poll beside the socket.
//
// What a disconnect means for requests on the socket: replies already
// received are still read from the socket (drain it first); nothing sent
// before the disconnect can be answered any more (the worker's ROUTER
// dropped the connection's identity; with ZMQ_IMMEDIATE the queue of the
// connection is dropped as well), so those requests fail with kUnavailable
// (DisconnectedError) rather than wait. Whether a write was applied is not
// known, as with any lost connection (redis, memcached).
//
// A CURVE handshake that fails (the worker refused the key, its key does
// not match, one side has no key) is reported too (TakeEvents), so the
// requests waiting for that connection fail at once with the reason
// (HandshakeError, curve_keys.h) instead of waiting for a connection.
//
// Thread-compatible: used by the thread that owns the watched socket.
// Attach before connecting (events before it are not seen); destroy after
// the watched socket is closed or before, either is safe (linger 0).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <zmq.hpp>

#include "shovel/status.h"

namespace shovel::client {

class ConnectionWatch {
 public:
  // Null when the monitor cannot be set up (then nothing is watched, and
  // requests wait their deadline as before).
  static std::unique_ptr<ConnectionWatch> Attach(zmq::context_t& context,
                                                 zmq::socket_t& socket);
  ~ConnectionWatch();

  // The socket to poll for ZMQ_POLLIN beside the watched one.
  zmq::socket_t& events() { return pair_; }
  // Reads every pending event; true when one of them was a disconnect.
  bool TakeDisconnect() { return TakeEvents().disconnected; }
  struct Events {
    bool disconnected = false;
    uint16_t handshake_failed = 0;  // ZMQ_EVENT_HANDSHAKE_FAILED_*, 0: none
    uint32_t value = 0;             // its value (protocol error, ZAP status)
  };
  // Reads every pending event.
  Events TakeEvents();

 private:
  explicit ConnectionWatch(zmq::socket_t pair) : pair_(std::move(pair)) {}
  zmq::socket_t pair_;
};

// The first frame of a monitor event (u16 event, u32 value, in host
// order): true when it reports ZMQ_EVENT_DISCONNECTED.
bool IsDisconnectEvent(std::string_view first_frame);

// The error of a request sent on a connection to `endpoint` that closed
// before its reply came.
Status DisconnectedError(const std::string& endpoint);

}  // namespace shovel::client
