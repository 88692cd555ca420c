// The Server's dealings with its peers, on the I/O thread: the role check
// of each request, replies counted in the peer's ReplyBudget until ZeroMQ
// frees them, disconnecting a peer, and the connection monitor's events.
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <zmq.hpp>

#include "server.h"
#include "server_frames.h"

namespace shovel::worker {
namespace {

using frames::PeerAddress;
using frames::SendAll;
using frames::SteadyNs;
using frames::View;

// Reply frames from this size up are counted in the peer's ReplyBudget;
// smaller ones (headers, short errors) are bounded by ZMQ_SNDHWM messages.
constexpr size_t kCountFrom = 256;

// A reply frame counted in its peer's queue until ZeroMQ frees it.
struct Counted {
  zmq::message_t msg;
  ReplyBudget::QueuePtr queue;
  int64_t bytes;
};

void ReleaseCounted(void*, void* hint) {
  auto* c = static_cast<Counted*>(hint);
  ReplyBudget::Release(*c->queue, c->bytes, SteadyNs());
  delete c;
}

}  // namespace

Status Server::Authorize(std::vector<zmq::message_t>& msg, const wire::Header& h) {
  // ZeroMQ attaches the ZAP handler's User-Id (the client's public key) to
  // every frame received on the connection.
  const char* key = zmq_msg_gets(msg[1].handle(), "User-Id");
  std::string_view k = key ? key : "";
  std::string_view body = msg.size() > 3 ? View(msg[3]) : std::string_view();
  Status st = auth_->Allow(k, h, body);
  if (!st.ok() && !auth_->RoleOf(k)) {
    const char* peer = zmq_msg_gets(msg[1].handle(), "Peer-Address");
    auth_->Refused(peer ? peer : "?", k, "key no longer authorized");
  }
  return st;
}

void Server::SendReply(std::vector<zmq::message_t>& frames, int64_t now_ns) {
  if (frames.size() >= 2 && watches_ != nullptr && watches_->holding()) {
    auto h = wire::DecodeHeader(View(frames[1]));
    if (h.ok()) {
      if (auto hold = watches_->TakeHold(View(frames[0]), h->request_id)) {
        held_replies_.push_back(HeldReply{std::move(frames), *std::move(hold)});
        frames.clear();
        PumpWatches(SteadyNs());  // its notices go now
        return;
      }
    }
  }
  SendNow(frames, now_ns);
}

void Server::PumpWatches(int64_t now_ns) {
  if (watches_ == nullptr) return;
  if (watches_->has_notices()) {
    for (Watches::Notice& n : watches_->TakeNotices()) {
      wire::Header h;
      h.op = wire::Op::kChanged;
      h.request_id = n.seq;
      for (const std::string& peer : n.peers) {
        std::vector<zmq::message_t> out;
        out.emplace_back(peer.data(), peer.size());
        out.push_back(frames::HeaderMessage(h));
        out.emplace_back(n.id.data(), n.id.size());
        // A peer gone is dropped by the ROUTER: its watches then run out.
        SendAll(*router_, out);
      }
    }
  }
  const int64_t steady = SteadyNowNs();
  for (size_t i = 0; i < held_replies_.size();) {
    if (!watches_->Done(held_replies_[i].hold, steady)) {
      ++i;
      continue;
    }
    std::vector<zmq::message_t> frames = std::move(held_replies_[i].frames);
    held_replies_.erase(held_replies_.begin() + static_cast<std::ptrdiff_t>(i));
    SendNow(frames, now_ns);
  }
  if (steady >= next_sweep_ns_) {
    watches_->Sweep(steady);
    next_sweep_ns_ = steady + std::max<int64_t>(watches_->term(), 100'000'000);
  }
}

void Server::OnChangedAnswer(std::vector<zmq::message_t>& m, const wire::Header& h) {
  if (watches_ != nullptr) watches_->Acked(View(m[0]), h.request_id);
}

void Server::SendNow(std::vector<zmq::message_t>& frames, int64_t now_ns) {
  if (frames.empty()) return;
  ReplyBudget::QueuePtr q = budget_->Peer(View(frames[0]), now_ns);
  for (size_t i = 1; i < frames.size(); ++i) {
    if (frames[i].size() < kCountFrom) continue;
    const auto n = static_cast<int64_t>(frames[i].size());
    auto* c = new Counted{std::move(frames[i]), q, n};
    ReplyBudget::Charge(*q, n, now_ns);
    // A frame this large is not stored inline, so its data stays put.
    frames[i] = zmq::message_t(c->msg.data(), c->msg.size(), ReleaseCounted, c);
  }
  SendAll(*router_, frames);
}

void Server::Disconnect(const std::string& peer) {
  auto [fd, addr] = budget_->Connection(peer);
  // Only while the descriptor is still that peer's connection: ZeroMQ may
  // have closed it and the number been reused.
  if (fd < 0 || addr.empty() || PeerAddress(fd) != addr) return;
  ::shutdown(fd, SHUT_RDWR);
  counters_->requests.CountDisconnected();
}

void Server::OnMonitorEvents(ConnectionTable& conns) {
  for (int k = 0; k < 1024; ++k) {
    zmq::message_t event, addr;
    if (!monitor_->recv(event, zmq::recv_flags::dontwait)) return;
    if (event.more()) (void)monitor_->recv(addr, zmq::recv_flags::none);
    if (event.size() < 6) continue;
    uint16_t id = 0;
    int32_t fd = -1;
    std::memcpy(&id, event.data(), 2);
    std::memcpy(&fd, static_cast<const char*>(event.data()) + 2, 4);
    if (id == ZMQ_EVENT_DISCONNECTED) {
      conns.Closed(fd);
    } else if (id == ZMQ_EVENT_ACCEPTED) {
      std::string peer = PeerAddress(fd);
      if (!conns.Accepted(fd, SteadyNs(), peer)) {
        // One too many: ZeroMQ accepted it, close it at once. Its
        // DISCONNECTED event comes before the descriptor can be reused.
        if (!peer.empty()) ::shutdown(fd, SHUT_RDWR);
        counters_->requests.CountRefusedConnection();
      }
    }
    // The connections metric (shovel_connections): those open and kept.
    counters_->connections.store(static_cast<int64_t>(conns.open()));
  }
}

}  // namespace shovel::worker
