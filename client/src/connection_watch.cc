#include "connection_watch.h"

#include <atomic>
#include <cstdint>
#include <cstring>

namespace shovel::client {

bool IsDisconnectEvent(std::string_view first_frame) {
  if (first_frame.size() != 6) return false;
  uint16_t event;
  std::memcpy(&event, first_frame.data(), sizeof event);
  return event == ZMQ_EVENT_DISCONNECTED;
}

Status DisconnectedError(const std::string& endpoint) {
  return Status::Unavailable("worker " + endpoint +
                             " closed the connection before it answered");
}

std::unique_ptr<ConnectionWatch> ConnectionWatch::Attach(zmq::context_t& context,
                                                         zmq::socket_t& socket) {
  static std::atomic<uint64_t> next{0};
  std::string address = "inproc://shovel-watch-" + std::to_string(next.fetch_add(1));
  constexpr int kEvents = ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                          ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                          ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
  if (zmq_socket_monitor(socket.handle(), address.c_str(), kEvents) != 0) {
    return nullptr;
  }
  try {
    zmq::socket_t pair(context, zmq::socket_type::pair);
    pair.set(zmq::sockopt::linger, 0);
    pair.connect(address);
    return std::unique_ptr<ConnectionWatch>(new ConnectionWatch(std::move(pair)));
  } catch (const zmq::error_t&) {
    zmq_socket_monitor(socket.handle(), nullptr, 0);
    return nullptr;
  }
}

ConnectionWatch::~ConnectionWatch() = default;

ConnectionWatch::Events ConnectionWatch::TakeEvents() {
  Events ev;
  for (;;) {
    zmq::message_t first;
    try {
      if (!pair_.recv(first, zmq::recv_flags::dontwait)) return ev;
      if (IsDisconnectEvent(first.to_string_view())) {
        ev.disconnected = true;
      } else if (first.size() == 6) {
        uint16_t event;
        uint32_t value;
        std::memcpy(&event, first.data(), sizeof event);
        std::memcpy(&value, static_cast<const char*>(first.data()) + 2, sizeof value);
        if (event &
            (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
             ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)) {
          ev.handshake_failed = event;
          ev.value = value;
        }
      }
      // The second frame (the peer's address) is not needed.
      while (first.more()) {
        zmq::message_t rest;
        if (!pair_.recv(rest, zmq::recv_flags::dontwait)) break;
        first.swap(rest);
      }
    } catch (const zmq::error_t&) {
      return ev;
    }
  }
}

}  // namespace shovel::client
