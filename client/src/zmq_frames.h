// Between the transport's own frames (transport.h: byte views and what keeps
// them alive) and ZeroMQ messages. Used only by the ZeroMQ transport
// (zmq_transport.cc, direct_calls.cc).
#pragma once

#include <vector>
#include <zmq.hpp>

#include "transport.h"

namespace shovel::client {

// A message of `f`'s bytes: from kShareFrom bytes up, with an owner, it
// keeps the owner until ZeroMQ has sent it instead of copying the bytes.
inline constexpr size_t kShareFrom = 8192;
zmq::message_t ToMessage(const wire::SharedFrame& f);

// Moves a received multipart reply into `resp`: its frames view the
// messages, which resp.keep then holds (one allocation, no byte copy).
void TakeReply(std::vector<zmq::message_t>&& msgs, Response& resp);

}  // namespace shovel::client
