// ZeroMQ frames as the worker's Server moves them (server.cc, server_io.cc,
// server_peers.cc, server_handlers.cc use these; nothing else does): reading
// and sending multipart messages, turning a Service reply's frames into
// messages without copying large ones, and the error reply the I/O thread
// sends to a request it does not serve.
//
// Thread-safety: plain functions; a socket is used by one thread at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "io_scheduler.h"
#include "service.h"
#include "shovel/protocol.h"
#include "shovel/status.h"

namespace shovel::worker::frames {

// The steady clock in nanoseconds (reply budgets, connection idleness).
int64_t SteadyNs();

// The remote address of a connected socket, "" when it has none.
std::string PeerAddress(int fd);

inline std::string_view View(const zmq::message_t& m) {
  return {static_cast<const char*>(m.data()), m.size()};
}

// Receives one multipart message without blocking. Frames past the limit are
// read and dropped (`oversized` is set) so a hostile peer cannot grow `out`.
// False when no message was waiting.
bool RecvMessage(zmq::socket_t& s, std::vector<zmq::message_t>& out, size_t max_frames,
                 bool& oversized);

// Sends `frames` as one multipart message without blocking; the frames are
// consumed.
void SendAll(zmq::socket_t& s, std::vector<zmq::message_t>& frames);

// A message of `f`'s bytes: small frames are copied, large ones keep their
// owner (or f.bytes, moved out) until ZeroMQ frees them. Bytes the reply owns
// are counted in `transit` (the store's gauge) meanwhile, when given.
zmq::message_t ToMessage(Frame& f, std::atomic<int64_t>* transit = nullptr);

// Hands the one payload frame of a large request to the service, which may
// keep it as stored bytes instead of copying them; null for other requests.
std::shared_ptr<const void> KeepPayload(std::vector<zmq::message_t>& msg);

// The header frame of a reply.
zmq::message_t HeaderMessage(const wire::Header& h);

// Replies `st` from the I/O thread to a request it does not serve (a header
// that did not decode, or a worker shutting down); needs at least a routing
// id and a 48-byte header frame (the request id and op are read raw).
void ReplyWithError(zmq::socket_t& router, std::vector<zmq::message_t>& msg,
                    const Status& st);

// The scheduler's questions about one request (io_scheduler.h), answered
// from its frames (routing id, header, id, payload...). `views` is scratch
// space; `msg` and `service` must outlive the probe.
class FrameProbe final : public RequestProbe {
 public:
  FrameProbe(const std::vector<zmq::message_t>& msg, std::vector<std::string_view>& views,
             Service& service)
      : msg_(msg), views_(views), service_(service) {}

  bool Cheap() override;
  void BatchIds(std::vector<std::string_view>& ids) override;

 private:
  Result<wire::Request> Decode();

  const std::vector<zmq::message_t>& msg_;
  std::vector<std::string_view>& views_;
  Service& service_;
};

}  // namespace shovel::worker::frames
