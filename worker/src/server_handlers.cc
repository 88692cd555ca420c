// The Server's handler lanes: each handler thread takes the requests the
// I/O thread dispatched to its lane, in order, and sends back the replies.
// Serve is also what the I/O thread runs for a request it serves inline.
#include <iterator>
#include <new>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "server.h"
#include "server_frames.h"

namespace shovel::worker {

void Server::Serve(std::vector<zmq::message_t>& msg, std::vector<std::string_view>& views,
                   std::vector<zmq::message_t>& reply) {
  views.clear();
  for (size_t i = 1; i < msg.size(); ++i) views.push_back(frames::View(msg[i]));
  ServiceReply rep;
  auto req = wire::DecodeRequest(views);
  if (!req.ok()) {
    counters_->Malformed(req.status());
    rep = Service::Error(*wire::DecodeHeader(views[0]), req.status());
  } else {
    Watches::Scope scope(
        watches_, frames::View(msg[0]),
        !(req->header.flags & (wire::kFlagReplica | wire::kFlagReplicas)));
    try {
      rep = service_->Handle(*req, frames::KeepPayload(msg));
    } catch (const std::bad_alloc&) {
      rep = Service::Error(req->header, Status::NoSpace("worker is out of memory"));
    }
    // Registered before the reply reaches the I/O thread, which holds it.
    if (auto hold = Watches::TakeScopeHold()) {
      watches_->Register(frames::View(msg[0]), req->header.request_id, *std::move(hold));
    }
  }
  MakeReply(msg[0], rep, reply);
}

void Server::MakeReply(zmq::message_t& routing, ServiceReply& rep,
                       std::vector<zmq::message_t>& reply) {
  reply.clear();
  reply.push_back(std::move(routing));
  reply.push_back(frames::HeaderMessage(rep.header));
  for (auto& f : rep.payload)
    reply.push_back(frames::ToMessage(f, &store_->transit_bytes()));
}

void Server::HandlerLoop(size_t index) {
  zmq::socket_t& in = *handler_in_[index];
  zmq::socket_t& out = *handler_out_[index];
  std::vector<zmq::message_t> msg;
  std::vector<std::string_view> views;
  std::vector<zmq::message_t> reply;
  try {
    for (;;) {
      msg.clear();
      if (!zmq::recv_multipart(in, std::back_inserter(msg))) continue;
      if (msg.size() == 1 && msg[0].size() == 0) return;  // Stop()
      Serve(msg, views, reply);
      frames::SendAll(out, reply);
    }
  } catch (const zmq::error_t&) {
  }
}

}  // namespace shovel::worker
