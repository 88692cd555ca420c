// ZmqTransport: the Transport over ZeroMQ DEALER sockets (the contract is
// transport.h's). ZeroMQ types stay behind this header and the files of the
// ZeroMQ transport (zmq_transport.cc, direct_calls.*, connection_watch.*,
// curve_keys.*, zmq_frames.*).
#pragma once

#include <cstdint>
#include <memory>

#include "transport.h"

namespace zmq {
class context_t;
}  // namespace zmq

namespace shovel::client {

class CurveKeys;

struct ZmqTransportOptions {
  // Shared context (e.g. for inproc:// in tests); null = own context.
  zmq::context_t* context = nullptr;
  // Bytes of requests accepted but not yet answered; Send blocks beyond it.
  uint64_t max_inflight_bytes = 512ull << 20;
  // ZeroMQ I/O threads of the own context (ignored with `context`).
  int io_threads = 2;
  // CURVE keys (curve_keys.h); null: plaintext. A connection whose
  // handshake fails fails its requests at once (HandshakeError).
  std::shared_ptr<CurveKeys> curve;
};

// The ZeroMQ implementation: two DEALER sockets per endpoint (chosen by a
// hash of the id, so one id's requests stay in order), all owned by one I/O
// thread; callers hand requests over through a locked queue plus an
// eventfd wake-up, so callers never wait on each other's I/O. BATCH requests
// to one worker that the I/O thread takes from the queue together go out as
// one BATCH message (SplitBatchReply gives each caller its own reply).
std::unique_ptr<Transport> NewZmqTransport(const ZmqTransportOptions& options);

}  // namespace shovel::client
