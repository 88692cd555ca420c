#include "server_forward.h"

#include <algorithm>
#include <iterator>
#include <zmq_addon.hpp>

#include "replicator.h"
#include "server_frames.h"

namespace shovel::worker {

using frames::View;

ForwardPath::ForwardPath(zmq::context_t& ctx, Replicator& replicator, std::string node_id)
    : ctx_(ctx), replicator_(replicator), node_id_(std::move(node_id)) {}

ForwardPath::~ForwardPath() = default;

ForwardPath::Peer* ForwardPath::PeerFor(const std::string& endpoint) {
  const std::string key = replicator_.PeerKey(endpoint);
  auto it = peers_.find(endpoint);
  if (it != peers_.end() && it->second.server_key == key) return &it->second;
  // New, or the peer's key changed (it came back with another key pair, or
  // the handler path moved it to the next listed key): a new connection.
  Peer p{endpoint, key, std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer)};
  zmq::socket_t& s = *p.socket;
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::immediate, 1);  // queue only on a live connection
  s.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::kMaxMessageBytes + 4096));
  if (const auto& keys = replicator_.keys()) {
    s.set(zmq::sockopt::curve_serverkey, key);
    s.set(zmq::sockopt::curve_publickey, keys->public_key);
    s.set(zmq::sockopt::curve_secretkey, keys->secret_key);
  }
  s.connect(endpoint);
  auto [at, inserted] = peers_.insert_or_assign(endpoint, std::move(p));
  (void)inserted;
  return &at->second;
}

bool ForwardPath::Start(Message& msg, const wire::Request& req, Service::FastWrite w,
                        size_t lane, int64_t now_ns) {
  const uint64_t request_id = next_request_++;
  const Replicator::Outgoing out =
      Replicator::ForwardOf(req, w.version, w.size, node_id_);
  for (const auto& endpoint : w.replicas) {
    Peer* peer = nullptr;
    try {
      peer = PeerFor(endpoint);
    } catch (const zmq::error_t&) {
      return false;  // the handler's forward names what is wrong with it
    }
    wire::Header h = out.header;
    h.request_id = request_id;
    h.aux = replicator_.Epoch(endpoint);
    Message m;
    m.push_back(frames::HeaderMessage(h));
    m.emplace_back(req.id.data(), req.id.size());
    for (std::string_view p : req.payload) {
      // A payload frame of the request is shared, not copied.
      auto same = std::find_if(msg.begin() + 1, msg.end(), [&](zmq::message_t& f) {
        return f.data() == p.data() && f.size() == p.size();
      });
      m.emplace_back();
      if (same != msg.end()) {
        m.back().copy(*same);
      } else {
        m.back().rebuild(p.data(), p.size());
      }
    }
    for (const auto& t : out.trailer) m.emplace_back(t.data(), t.size());
    try {
      if (!zmq::send_multipart(*peer->socket, m, zmq::send_flags::dontwait)) return false;
    } catch (const zmq::error_t&) {
      return false;
    }
  }
  Entry e;
  e.id = std::string(req.id);
  e.write = std::move(w);
  e.left = e.write.replicas.size();
  e.lane = lane;
  e.deadline_ns = now_ns + kDeadlineNs;
  e.start = std::chrono::steady_clock::now();
  e.msg = std::move(msg);
  pending_.emplace(request_id, std::move(e));
  return true;
}

void ForwardPath::AddPollItems(std::vector<zmq::pollitem_t>& items) {
  polled_.clear();
  for (auto& [endpoint, peer] : peers_) {
    items.push_back({peer.socket->handle(), 0, ZMQ_POLLIN, 0});
    polled_.push_back(&peer);
  }
}

std::vector<ForwardPath::Entry> ForwardPath::Collect(
    const std::vector<zmq::pollitem_t>& items, size_t first) {
  std::vector<Entry> done;
  Message frames;
  for (size_t i = 0; i < polled_.size() && first + i < items.size(); ++i) {
    if (!(items[first + i].revents & ZMQ_POLLIN)) continue;
    for (int k = 0; k < 256; ++k) {
      frames.clear();
      try {
        if (!zmq::recv_multipart(*polled_[i]->socket, std::back_inserter(frames),
                                 zmq::recv_flags::dontwait)) {
          break;
        }
      } catch (const zmq::error_t&) {
        break;
      }
      OnReply(*polled_[i], frames, done);
    }
  }
  return done;
}

void ForwardPath::OnReply(Peer& peer, Message& frames, std::vector<Entry>& done) {
  std::vector<std::string_view> views;
  for (auto& f : frames) views.push_back(View(f));
  auto rep = wire::DecodeReply(views);
  if (!rep.ok()) return;  // not a reply to anything in flight
  auto it = pending_.find(rep->header.request_id);
  if (it == pending_.end()) return;  // a forward that failed or expired
  replicator_.SetEpoch(peer.endpoint, rep->header.aux);
  Entry& e = it->second;
  if (rep->header.status != Code::kOk) {
    e.failed = true;
  } else if (--e.left > 0) {
    return;
  }
  done.push_back(std::move(e));
  pending_.erase(it);
}

std::vector<ForwardPath::Entry> ForwardPath::Expired(int64_t now_ns) {
  std::vector<Entry> out;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now_ns < it->second.deadline_ns) {
      ++it;
      continue;
    }
    it->second.failed = true;
    out.push_back(std::move(it->second));
    it = pending_.erase(it);
  }
  return out;
}

int64_t ForwardPath::NextDeadlineMs(int64_t now_ns) const {
  int64_t first = -1;
  for (const auto& [id, e] : pending_) {
    if (first < 0 || e.deadline_ns < first) first = e.deadline_ns;
  }
  if (first < 0) return -1;
  return std::max<int64_t>(0, (first - now_ns) / 1'000'000 + 1);
}

}  // namespace shovel::worker
