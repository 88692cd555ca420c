#include "zmq_frames.h"

#include <memory>
#include <utility>

namespace shovel::client {

zmq::message_t ToMessage(const wire::SharedFrame& f) {
  if (!f.owner || f.bytes.size() < kShareFrom) {
    return zmq::message_t(f.bytes.data(), f.bytes.size());
  }
  auto* hold = new std::shared_ptr<const void>(f.owner);
  return zmq::message_t(
      const_cast<char*>(f.bytes.data()), f.bytes.size(),
      [](void*, void* hint) { delete static_cast<std::shared_ptr<const void>*>(hint); },
      hold);
}

void TakeReply(std::vector<zmq::message_t>&& msgs, Response& resp) {
  // Moving the vector moves no message, so the views stay valid.
  auto held = std::make_shared<std::vector<zmq::message_t>>(std::move(msgs));
  resp.frames.clear();
  resp.frames.reserve(held->size());
  for (const auto& m : *held) resp.frames.push_back(m.to_string_view());
  resp.keep = std::move(held);
}

}  // namespace shovel::client
