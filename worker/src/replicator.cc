#include "replicator.h"

#include <algorithm>
#include <cstring>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "shovel/log.h"
#include "shovel/text.h"

namespace shovel::worker {
namespace {

using Clock = std::chrono::steady_clock;

std::string_view View(const zmq::message_t& m) {
  return {static_cast<const char*>(m.data()), m.size()};
}

}  // namespace

struct Replicator::Conn {
  std::string endpoint;
  zmq::socket_t socket;
  std::string server_key;  // the peer's CURVE key it was made with
  // Its monitor's handshake failures, while more than one peer key is
  // listed (KeyRejected); null otherwise.
  std::unique_ptr<zmq::socket_t> monitor;
};

Replicator::Replicator(std::optional<KeyPair> keys)
    : ctx_(std::make_unique<zmq::context_t>(1)),
      keys_(std::move(keys)),
      peer_keys_(keys_ ? keys_->public_key : std::string()) {}

void Replicator::SetPeerKey(const std::string& endpoint, const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string before = peer_keys_.Key(endpoint);
  peer_keys_.SetKnown(endpoint, key);
  if (peer_keys_.Key(endpoint) == before) return;
  // The peer came back with a new key pair: idle connections made with the
  // old key would offer it on every reconnect.
  auto [from, to] = idle_.equal_range(endpoint);
  idle_.erase(from, to);
}

Status Replicator::WatchPeerKeys(const std::string& file) {
  if (!keys_) {
    return Status::InvalidArgument("peer-keys " + file + " needs --key-file");
  }
  std::lock_guard<std::mutex> l(mu_);
  peer_keys_file_ = file;
  if (Status st = ReloadPeerKeysLocked(); !st.ok() || peer_keys_.list().empty()) {
    peer_keys_file_.clear();
    return st.ok() ? Status::InvalidArgument(file + ": lists no public key") : st;
  }
  next_refresh_ = Clock::now() + kRefreshEvery;
  return Status::Ok();
}

void Replicator::RefreshPeerKeysLocked() {
  // Being replaced, half written or emptied: the keys read before stay.
  if (!peer_keys_file_.empty()) (void)ReloadPeerKeysLocked();
}

Status Replicator::ReloadPeerKeysLocked() {
  auto keys = ReadWorkerKeysIfChanged(peer_keys_file_, &peer_keys_identity_);
  if (!keys.ok()) return keys.status();
  if (!*keys) return Status::Ok();  // unchanged
  if ((*keys)->empty()) {
    return Status::InvalidArgument(peer_keys_file_ + ": lists no public key");
  }
  log::Info("peer keys: " + std::to_string((*keys)->size()) + " read from " +
            peer_keys_file_);
  peer_keys_.SetList(std::move(**keys));
  // Idle connections made with a key no longer chosen are closed, and
  // those without a monitor once there are keys to move between.
  const bool rotating = peer_keys_.list().size() > 1;
  for (auto it = idle_.begin(); it != idle_.end();) {
    if (it->second->server_key != peer_keys_.Key(it->first) ||
        (rotating && !it->second->monitor)) {
      it = idle_.erase(it);
    } else {
      ++it;
    }
  }
  return Status::Ok();
}

Replicator::~Replicator() {
  {
    std::lock_guard<std::mutex> l(mu_);
    idle_.clear();
  }
  ctx_->close();
}

std::unique_ptr<Replicator::Conn> Replicator::Take(const std::string& endpoint) {
  std::string server_key;
  bool watch = false;
  uint64_t monitor_id = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!peer_keys_file_.empty() && Clock::now() >= next_refresh_) {
      next_refresh_ = Clock::now() + kRefreshEvery;
      RefreshPeerKeysLocked();
    }
    auto it = idle_.find(endpoint);
    if (it != idle_.end()) {
      auto c = std::move(it->second);
      idle_.erase(it);
      return c;
    }
    if (keys_) {
      server_key = peer_keys_.Key(endpoint);
      watch = peer_keys_.list().size() > 1;
      monitor_id = next_monitor_++;
    }
  }
  auto c = std::make_unique<Conn>(
      Conn{endpoint, zmq::socket_t(*ctx_, zmq::socket_type::dealer), server_key, {}});
  c->socket.set(zmq::sockopt::linger, 0);
  c->socket.set(zmq::sockopt::immediate, 1);  // queue only on a live connection
  c->socket.set(zmq::sockopt::maxmsgsize,
                static_cast<int64_t>(wire::kMaxMessageBytes + 4096));
  if (keys_) {
    c->socket.set(zmq::sockopt::curve_serverkey, server_key);
    c->socket.set(zmq::sockopt::curve_publickey, keys_->public_key);
    c->socket.set(zmq::sockopt::curve_secretkey, keys_->secret_key);
  }
  if (watch) {
    const std::string address = "inproc://shovel-peer-watch-" +
                                std::to_string(reinterpret_cast<uintptr_t>(this)) + "-" +
                                std::to_string(monitor_id);
    if (zmq_socket_monitor(c->socket.handle(), address.c_str(),
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) == 0) {
      c->monitor = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::pair);
      c->monitor->set(zmq::sockopt::linger, 0);
      c->monitor->connect(address);
    }
  }
  c->socket.connect(endpoint);
  return c;
}

bool Replicator::KeyRejected(Conn& c) {
  if (!c.monitor) return false;
  bool failed = false;
  try {
    zmq::message_t first;
    while (c.monitor->recv(first, zmq::recv_flags::dontwait)) {
      if (first.size() == 6) {
        uint16_t event;
        uint32_t value;
        std::memcpy(&event, first.data(), sizeof event);
        std::memcpy(&value, static_cast<const char*>(first.data()) + 2, sizeof value);
        // A mechanism mismatch is a peer without keys: no key of ours helps.
        if (!(event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
              value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)) {
          failed = true;
        }
      }
      while (first.more()) {  // the peer's address
        zmq::message_t rest;
        if (!c.monitor->recv(rest, zmq::recv_flags::dontwait)) break;
        first.swap(rest);
      }
    }
  } catch (const zmq::error_t&) {
  }
  if (!failed) return false;
  std::lock_guard<std::mutex> l(mu_);
  RefreshPeerKeysLocked();
  if (!peer_keys_.Rejected(c.endpoint, c.server_key)) return false;
  const std::string now = peer_keys_.Key(c.endpoint);
  log::Info("peer " + c.endpoint + " failed the CURVE handshake with key " +
            c.server_key.substr(0, 8) + "...; connecting with " + now.substr(0, 8) +
            "... (from " + peer_keys_file_ + ")");
  return true;
}

void Replicator::Give(std::unique_ptr<Conn> c) {
  std::lock_guard<std::mutex> l(mu_);
  // Taken before the peer's key changed: closed, not kept.
  if (keys_ && c->server_key != peer_keys_.Key(c->endpoint)) return;
  idle_.emplace(c->endpoint, std::move(c));
}

uint64_t Replicator::Epoch(const std::string& endpoint) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = epochs_.find(endpoint);
  return it == epochs_.end() ? 0 : it->second;
}

void Replicator::SetEpoch(const std::string& endpoint, uint64_t epoch) {
  if (epoch == 0) return;
  std::lock_guard<std::mutex> l(mu_);
  epochs_[endpoint] = epoch;
}

namespace {

// One replica's progress through its messages (the write; after a
// kConflict on APPEND: a repairing SET, then the write again).
struct Leg {
  std::vector<std::vector<zmq::message_t>> queue;  // to send, in order
  uint64_t awaiting = 0;                           // request id sent, 0: none
  uint64_t sent_epoch = 0;                         // aux of the message sent
  bool repaired = false;
  bool epoch_retried = false;
  bool sent_any = false;  // a first message went out: its connection is up
  bool done = false;
  Clock::time_point connect_by;  // its connection must be up by then
  size_t key_tries = 0;          // connections made again with another key
};

std::vector<zmq::message_t> Message(const wire::Header& h, std::string_view id,
                                    const std::vector<std::string_view>& payload) {
  std::vector<zmq::message_t> m;
  m.emplace_back(wire::kHeaderSize);
  wire::EncodeHeader(h, static_cast<char*>(m.back().data()));
  m.emplace_back(id.data(), id.size());
  for (auto p : payload) m.emplace_back(p.data(), p.size());
  return m;
}

// Sends message `m` once `s` can take it within `wait`; false when it
// could not.
bool SendWhenWritable(zmq::socket_t& s, std::vector<zmq::message_t>& m,
                      std::chrono::milliseconds wait) {
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLOUT, 0};
  if (zmq::poll(&item, 1, wait) <= 0) return false;
  for (size_t k = 0; k < m.size(); ++k) {
    auto f = zmq::send_flags::dontwait;
    if (k + 1 < m.size()) f = f | zmq::send_flags::sndmore;
    (void)s.send(m[k], f);
  }
  return true;
}

}  // namespace

ForwardError Replicator::Forward(const wire::Request& req, uint64_t version,
                                 uint64_t offset, uint64_t have_version,
                                 const RepairFn& repair, std::string_view sender) {
  return Send(req,
              {version, offset, have_version, repair ? &repair : nullptr, true, sender});
}

ForwardError Replicator::Copy(const wire::Request& req, uint64_t version) {
  return Send(req, {version, 0, version, nullptr, false});
}

Replicator::Outgoing Replicator::ForwardOf(const wire::Request& req, uint64_t version,
                                           uint64_t offset, std::string_view sender) {
  Outgoing out;
  wire::Header& h = out.header;
  h = req.header;
  h.flags =
      (h.flags & ~(wire::kFlagReplicas | wire::kFlagIfVersion)) | wire::kFlagReplica;
  h.version_no = version;
  if (h.op == wire::Op::kAppend) h.offset = offset;
  // The primary's node id and passed-over workers (kFlagSender), then the
  // append's token (kFlagToken): the last frames.
  h.flags &= ~(wire::kFlagSender | wire::kFlagToken);
  if (!sender.empty()) {
    std::vector<std::string> list{std::string(sender)};
    list.insert(list.end(), req.passed_over.begin(), req.passed_over.end());
    out.trailer.push_back(wire::EncodeStrings(list));
    h.flags |= wire::kFlagSender;
  }
  if (h.op == wire::Op::kAppend && req.token != 0) {
    h.flags |= wire::kFlagToken;
    out.trailer.push_back(wire::EncodeToken(req.token));
  }
  return out;
}

std::string Replicator::PeerKey(const std::string& endpoint) {
  if (!keys_) return {};
  std::lock_guard<std::mutex> l(mu_);
  return peer_keys_.Key(endpoint);
}

ForwardError Replicator::Send(const wire::Request& req, const Spec& spec) {
  const uint64_t version = spec.version, offset = spec.offset;
  const uint64_t have_version = spec.have_version;
  const auto until = Clock::now() + kDeadline;
  const Outgoing out = ForwardOf(req, version, offset, spec.sender);
  const wire::Header& h = out.header;
  std::vector<std::string_view> payload = req.payload;
  for (const auto& t : out.trailer) payload.push_back(t);

  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<Leg> legs(req.replicas.size());
  try {
    for (size_t i = 0; i < req.replicas.size(); ++i)
      conns.push_back(Take(req.replicas[i]));
  } catch (const zmq::error_t& e) {
    return {Status::Unavailable(std::string("cannot reach a replica: ") + e.what()), {}};
  }
  auto next_id = [&] {
    std::lock_guard<std::mutex> l(mu_);
    return next_request_++;
  };
  for (size_t i = 0; i < legs.size(); ++i) {
    legs[i].queue.push_back(Message(h, req.id, payload));
  }
  ForwardError failed;
  std::vector<zmq::pollitem_t> items(legs.size());
  // A replica that takes no connection (its process is gone: the socket
  // is not writable while it has none) fails soon, not at the deadline.
  for (auto& l : legs) l.connect_by = Clock::now() + kConnectWait;
  auto connect_by = legs.empty() ? Clock::now() : legs[0].connect_by;
  try {
    for (;;) {
      size_t open = 0;
      bool connecting = false;
      for (size_t i = 0; i < legs.size(); ++i) {
        Leg& l = legs[i];
        short ev = l.done ? 0 : (l.awaiting ? ZMQ_POLLIN : ZMQ_POLLOUT);
        items[i] = {conns[i]->socket.handle(), 0, ev, 0};
        if (!l.done) ++open;
        if (!l.done && !l.awaiting && !l.sent_any) {
          if (Clock::now() >= l.connect_by && l.key_tries < kMaxKeyTries &&
              KeyRejected(*conns[i])) {
            // Its handshake failed and another listed key is next: the
            // connection is made again with it (docs/security.md).
            ++l.key_tries;
            conns[i] = Take(req.replicas[i]);
            l.connect_by = Clock::now() + kConnectWait;
            items[i] = {conns[i]->socket.handle(), 0, ev, 0};
          }
          connect_by = connecting ? std::min(connect_by, l.connect_by) : l.connect_by;
          connecting = true;
          if (Clock::now() >= l.connect_by && failed.status.ok()) {
            failed = {
                Status::Unavailable("replica " + req.replicas[i] +
                                    " takes no connection (none within " +
                                    std::to_string(kConnectWait.count()) +
                                    " ms); the write was not applied on the primary"),
                req.replicas[i]};
          }
        }
      }
      if (open == 0 || !failed.status.ok()) break;
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      if (connecting) {
        left = std::min(left, std::chrono::duration_cast<std::chrono::milliseconds>(
                                  connect_by - Clock::now()) +
                                  std::chrono::milliseconds(1));
      }
      if (left.count() <= 0) {
        for (size_t i = 0; i < legs.size(); ++i) {
          if (legs[i].done) continue;
          failed = {Status::Unavailable("replica " + req.replicas[i] +
                                        " did not answer within " +
                                        std::to_string(kDeadline.count()) +
                                        " ms; the write was not applied on the primary"),
                    req.replicas[i]};
          break;
        }
        break;
      }
      zmq::poll(items.data(), items.size(), left);
      for (size_t i = 0; i < legs.size() && failed.status.ok(); ++i) {
        Leg& l = legs[i];
        zmq::socket_t& s = conns[i]->socket;
        if (!l.awaiting && (items[i].revents & ZMQ_POLLOUT)) {
          l.sent_any = true;
          auto& m = l.queue.front();
          l.awaiting = next_id();
          wire::Header mh = *wire::DecodeHeader(View(m[0]));
          mh.request_id = l.awaiting;
          mh.aux = l.sent_epoch = Epoch(req.replicas[i]);
          wire::EncodeHeader(mh, static_cast<char*>(m[0].data()));
          for (size_t k = 0; k < m.size(); ++k) {
            auto f = zmq::send_flags::dontwait;
            if (k + 1 < m.size()) f = f | zmq::send_flags::sndmore;
            (void)s.send(m[k], f);
          }
          l.queue.erase(l.queue.begin());
          continue;
        }
        if (!l.awaiting || !(items[i].revents & ZMQ_POLLIN)) continue;
        std::vector<zmq::message_t> frames;
        if (!zmq::recv_multipart(s, std::back_inserter(frames),
                                 zmq::recv_flags::dontwait))
          continue;
        std::vector<std::string_view> views;
        for (auto& f : frames) views.push_back(View(f));
        auto rep = wire::DecodeReply(views);
        if (!rep.ok()) {
          failed = {rep.status().WithContext("reply from replica " + req.replicas[i]),
                    req.replicas[i]};
          break;
        }
        if (rep->header.request_id != l.awaiting) continue;  // a late, older reply
        l.awaiting = 0;
        Status st = wire::ReplyStatus(*rep);
        SetEpoch(req.replicas[i], rep->header.aux);
        if (st.code() == Code::kConflict && rep->header.aux != 0 &&
            rep->header.aux != l.sent_epoch && !l.epoch_retried &&
            spec.resend_if_rejoined) {
          // The replica rejoined under a new epoch: the same write again.
          l.epoch_retried = true;
          l.queue.insert(l.queue.begin(), Message(h, req.id, payload));
          continue;
        }
        if (st.code() == Code::kAlreadyExists && (h.flags & wire::kFlagToken)) {
          failed = {st.WithContext("replica " + req.replicas[i]), req.replicas[i],
                    rep->header.version_no, true};
          break;
        }
        if (st.code() == Code::kConflict && h.op == wire::Op::kAppend &&
            rep->header.version_no > have_version) {
          failed = {st.WithContext("replica " + req.replicas[i]), req.replicas[i],
                    rep->header.version_no};
          break;
        }
        if (st.code() == Code::kConflict && h.op == wire::Op::kAppend && !l.repaired &&
            spec.repair != nullptr) {
          // The replica missed writes: give it the blob as it is here, then
          // the append again.
          l.repaired = true;
          auto v = (*spec.repair)(req.replicas[i]);
          if (!v.ok()) {
            failed = {v.status().WithContext("repairing replica " + req.replicas[i]), {}};
            break;
          }
          if (v->sent) {
            l.queue.push_back(Message(h, req.id, payload));
            continue;
          }
          wire::Header sh = h;
          sh.op = wire::Op::kSet;
          sh.flags &= ~(wire::kFlagSender | wire::kFlagToken);
          sh.offset = 0;
          sh.version_no = v->version;
          l.queue.insert(l.queue.begin(), Message(sh, req.id, {v->bytes}));
          l.queue.push_back(Message(h, req.id, payload));
          continue;
        }
        if (!st.ok()) {
          // A replica that is shutting down (or otherwise unavailable) did
          // not apply it: at fault, to be routed around, like one that did
          // not answer. One that names a worker before this one (payload[2])
          // is not at fault: the client asks that worker.
          std::string at_fault, outranked_by;
          if (st.code() == Code::kUnavailable) {
            if (rep->payload.size() >= 3 && !rep->payload[2].empty()) {
              outranked_by = std::string(rep->payload[2]);
            } else {
              at_fault = req.replicas[i];
            }
          }
          failed = {st.WithContext("replica " + req.replicas[i]), at_fault};
          failed.outranked_by = std::move(outranked_by);
          break;
        }
        if (l.queue.empty()) l.done = true;
      }
      if (!failed.status.ok()) break;
    }
  } catch (const zmq::error_t& e) {
    failed = {Status::Unavailable(std::string("forwarding to replicas: ") + e.what()),
              {}};
  }
  // A socket still waiting for a reply is closed (its late reply would
  // confuse the next user); the others go back to the pool.
  for (size_t i = 0; i < legs.size(); ++i) {
    if (legs[i].done) Give(std::move(conns[i]));
  }
  return failed;
}

Result<Replicator::Answer> Replicator::Call(const std::string& endpoint, wire::Header h,
                                            std::string_view id,
                                            const std::vector<std::string_view>& payload,
                                            std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  auto left = [&] {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    return std::max(ms, std::chrono::milliseconds(0));
  };
  std::unique_ptr<Conn> c;
  try {
    c = Take(endpoint);
    {
      std::lock_guard<std::mutex> l(mu_);
      h.request_id = next_request_++;
    }
    auto m = Message(h, id, payload);
    if (SendWhenWritable(c->socket, m, left())) {
      std::vector<zmq::message_t> frames;
      zmq::pollitem_t item{c->socket.handle(), 0, ZMQ_POLLIN, 0};
      while (zmq::poll(&item, 1, left()) > 0) {
        frames.clear();
        if (!zmq::recv_multipart(c->socket, std::back_inserter(frames))) break;
        std::vector<std::string_view> views;
        for (auto& f : frames) views.push_back(View(f));
        auto rep = wire::DecodeReply(views);
        if (!rep.ok() || rep->header.request_id != h.request_id) continue;
        Answer a{
            rep->header, rep->payload.empty() ? "" : std::string(rep->payload[0]), {}};
        for (size_t k = 1; k < rep->payload.size(); ++k) {
          a.more.emplace_back(rep->payload[k]);
        }
        Give(std::move(c));
        return a;
      }
    }
  } catch (const zmq::error_t&) {
  }
  // The socket is dropped (a late reply must not reach the next user). A
  // failed handshake moves the peer to the next listed key for the next call.
  if (c) KeyRejected(*c);
  return Status::Unavailable("worker " + endpoint + " did not answer " +
                             std::string(wire::OpName(h.op)) + " within " +
                             std::to_string(timeout.count()) + " ms");
}

Result<RepairValue> Replicator::Fetch(const std::vector<std::string>& endpoints,
                                      std::string_view id, std::string* unanswered_out) {
  RepairValue v;
  auto got = FetchParts(
      endpoints, id,
      [&](std::string_view bytes, uint64_t offset, uint64_t size, uint64_t) -> Status {
        if (size > kMaxFetch) {
          return Status::NoSpace("id " + QuoteForMessage(id) +
                                 " is too large to fetch (" + std::to_string(size) +
                                 " bytes)");
        }
        if (offset == 0) v.bytes.clear();
        v.bytes.append(bytes);
        return Status::Ok();
      },
      unanswered_out);
  if (!got.ok()) return got.status();
  v.version = *got;
  return v;
}

Result<uint64_t> Replicator::FetchParts(const std::vector<std::string>& endpoints,
                                        std::string_view id, const FetchSink& sink,
                                        std::string* unanswered_out) {
  // The deadline is for progress: each answered part gives the next one
  // kDeadline again, so a large value on a slow link is still taken.
  auto until = Clock::now() + kDeadline;
  std::string unanswered;
  auto left = [&] {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    return std::max(ms, std::chrono::milliseconds(0));
  };
  for (const auto& endpoint : endpoints) {
    std::unique_ptr<Conn> c;
    try {
      c = Take(endpoint);
    } catch (const zmq::error_t&) {
      continue;
    }
    uint64_t got = 0, version = 0;
    bool complete = false, answered = true, answered_not_found = false;
    try {
      while (!complete && answered) {
        answered = false;
        wire::Header h;
        h.op = wire::Op::kGet;
        h.flags = wire::kFlagNoRedirect;
        h.offset = got;
        h.length = wire::kToEnd;
        {
          std::lock_guard<std::mutex> l(mu_);
          h.request_id = next_request_++;
        }
        auto m = Message(h, id, {});
        if (!SendWhenWritable(c->socket, m, left())) break;
        std::vector<zmq::message_t> frames;
        zmq::pollitem_t item{c->socket.handle(), 0, ZMQ_POLLIN, 0};
        while (!answered && zmq::poll(&item, 1, left()) > 0) {
          frames.clear();
          if (!zmq::recv_multipart(c->socket, std::back_inserter(frames))) break;
          std::vector<std::string_view> views;
          for (auto& f : frames) views.push_back(View(f));
          auto rep = wire::DecodeReply(views);
          if (!rep.ok() || rep->header.request_id != h.request_id) continue;
          if (rep->header.status != Code::kOk) {  // this one does not hold it
            answered_not_found = rep->header.status == Code::kNotFound;
            break;
          }
          answered = true;
          if (got != 0 && rep->header.version_no != version) {
            return Status::Conflict("id " + QuoteForMessage(id) + " changed on " +
                                    endpoint + " while it was fetched: not taken");
          }
          version = rep->header.version_no;
          std::string_view bytes = rep->payload.empty() ? "" : rep->payload[0];
          SHOVEL_RETURN_IF_ERROR(sink(bytes, got, rep->header.length, version)
                                     .WithContext("fetching from " + endpoint));
          got += bytes.size();
          complete = !(rep->header.flags & wire::kFlagMore);
          until = Clock::now() + kDeadline;
        }
      }
    } catch (const zmq::error_t&) {
      complete = false;
    }
    if (complete) {
      Give(std::move(c));
      return version;
    }
    if (!answered_not_found) unanswered = endpoint;
    if (c) KeyRejected(*c);  // the next fetch tries the next listed key
  }
  // One that did not answer may hold it: nothing can be built on "absent".
  if (!unanswered.empty()) {
    if (unanswered_out) *unanswered_out = unanswered;
    return Status::Unavailable("replica " + unanswered + " did not answer within " +
                               std::to_string(kDeadline.count()) +
                               " ms whether it holds id " + QuoteForMessage(id) +
                               "; the write was not applied");
  }
  return Status::NotFound("no replica holds id " + QuoteForMessage(id));
}

}  // namespace shovel::worker
