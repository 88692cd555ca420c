#include "server.h"

#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <unordered_map>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "chunk.h"
#include "io_scheduler.h"

namespace shovel::worker {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kCopyBelow = 8192;  // smaller reply frames are copied
// Reply frames from this size up are counted in the peer's ReplyBudget;
// smaller ones (headers, short errors) are bounded by ZMQ_SNDHWM messages.
constexpr size_t kCountFrom = 256;
// Per peer, in messages: requests ZeroMQ reads ahead of the I/O thread, and
// replies it queues (past this a ROUTER drops them; the byte bound of
// ReplyBudget normally stops a peer long before).
constexpr int kRecvHwm = 256;
constexpr int kSendHwm = 1000;

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             Clock::now().time_since_epoch())
      .count();
}

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

// The remote address of a connected socket, "" when it has none.
std::string PeerAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return std::string(reinterpret_cast<const char*>(&ss), len);
}

std::string_view View(const zmq::message_t& m) {
  return {static_cast<const char*>(m.data()), m.size()};
}

// Receives one multipart message without blocking. Frames past the limit are
// read and dropped (`oversized` is set) so a hostile peer cannot grow `out`.
bool RecvMessage(zmq::socket_t& s, std::vector<zmq::message_t>& out, size_t max_frames,
                 bool& oversized) {
  out.clear();
  oversized = false;
  zmq::message_t m;
  if (!s.recv(m, zmq::recv_flags::dontwait)) return false;
  for (;;) {
    bool more = m.more();
    if (out.size() < max_frames)
      out.push_back(std::move(m));
    else
      oversized = true;
    if (!more) return true;
    m = zmq::message_t();
    (void)s.recv(m, zmq::recv_flags::none);  // parts of a message arrive together
  }
}

void SendAll(zmq::socket_t& s, std::vector<zmq::message_t>& frames) {
  for (size_t i = 0; i < frames.size(); ++i) {
    auto flags = zmq::send_flags::dontwait;
    if (i + 1 < frames.size()) flags = flags | zmq::send_flags::sndmore;
    (void)s.send(frames[i], flags);
  }
}

// A reply's own bytes (a decompressed range, a listing), counted in the
// store's transit gauge until ZeroMQ frees them.
struct OwnedReply {
  std::string bytes;
  std::atomic<int64_t>* transit;
};

zmq::message_t ToMessage(Frame& f, std::atomic<int64_t>* transit = nullptr) {
  if (!f.slice.owner) {
    if (f.bytes.size() < kCopyBelow)
      return zmq::message_t(f.bytes.data(), f.bytes.size());
    auto* hold = new OwnedReply{std::move(f.bytes), transit};
    if (transit) transit->fetch_add(static_cast<int64_t>(hold->bytes.size()));
    return zmq::message_t(
        hold->bytes.data(), hold->bytes.size(),
        [](void*, void* hint) {
          auto* h = static_cast<OwnedReply*>(hint);
          if (h->transit) h->transit->fetch_sub(static_cast<int64_t>(h->bytes.size()));
          delete h;
        },
        hold);
  }
  if (f.slice.size < kCopyBelow) return zmq::message_t(f.slice.data, f.slice.size);
  auto* hold = new std::shared_ptr<const void>(std::move(f.slice.owner));
  return zmq::message_t(
      const_cast<char*>(f.slice.data), f.slice.size,
      [](void*, void* hint) { delete static_cast<std::shared_ptr<const void>*>(hint); },
      hold);
}

// Hands the one payload frame of a large request to the service, which may
// keep it as stored bytes instead of copying them. Moving a frame this large
// keeps its data pointer (only frames of a few bytes live inline), so views
// taken before the move stay valid.
constexpr size_t kKeepAbove = 64 << 10;
std::shared_ptr<const void> KeepPayload(std::vector<zmq::message_t>& msg) {
  if (msg.size() != 4 || msg[3].size() < kKeepAbove) return nullptr;
  return std::make_shared<zmq::message_t>(std::move(msg[3]));
}

zmq::message_t HeaderMessage(const wire::Header& h) {
  zmq::message_t m(wire::kHeaderSize);
  wire::EncodeHeader(h, static_cast<char*>(m.data()));
  return m;
}

}  // namespace

Result<std::unique_ptr<Server>> Server::Bind(const std::string& listen, int io_threads,
                                             const ServerSecurity* security) {
  std::unique_ptr<Server> s(new Server);
  std::string ep = listen;
  if (ep.size() > 2 && ep.compare(ep.size() - 2, 2, ":0") == 0) {
    ep.replace(ep.size() - 1, 1, "*");
  }
  try {
    // Each client connection's TCP copies run on one of the I/O threads.
    s->ctx_ = std::make_unique<zmq::context_t>(io_threads);
    if (security) {
      // The ZAP handler listens before the CURVE socket binds.
      SHOVEL_ASSIGN_OR_RETURN(s->zap_, ZapHandler::Start(*s->ctx_, security->auth));
      s->auth_ = security->auth;
    }
    s->router_ = std::make_unique<zmq::socket_t>(*s->ctx_, zmq::socket_type::router);
    if (security) {
      s->router_->set(zmq::sockopt::curve_server, 1);
      s->router_->set(zmq::sockopt::curve_secretkey, security->secret_key);
      s->router_->set(zmq::sockopt::zap_domain, "shoveling");
    }
    s->router_->set(zmq::sockopt::maxmsgsize,
                    static_cast<int64_t>(wire::kMaxMessageBytes + 4096));
    s->router_->set(zmq::sockopt::rcvhwm, kRecvHwm);
    s->router_->set(zmq::sockopt::sndhwm, kSendHwm);
    s->router_->set(zmq::sockopt::linger, 2000);
    // A peer that answers no ZMTP heartbeat for 30 s (a host that vanished
    // without a FIN) is dropped with what was queued for it.
    s->router_->set(zmq::sockopt::heartbeat_ivl, 10000);
    s->router_->set(zmq::sockopt::heartbeat_timeout, 30000);
    s->router_->bind(ep);
    s->endpoint_ = s->router_->get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("cannot listen on '" + listen + "': " + e.what());
  }
  return s;
}

Server::~Server() {
  Stop();
  if (router_) zmq_socket_monitor(router_->handle(), nullptr, 0);
  monitor_.reset();
  router_.reset();
  from_handlers_.clear();
  to_handlers_.clear();
  handler_in_.clear();
  handler_out_.clear();
  zap_.reset();
  if (ctx_) ctx_->close();
}

Status Server::Start(Service* service, Store* store, ServiceCounters* counters,
                     int threads, const ServerLimits& limits) {
  limits_ = limits;
  budget_ = std::make_unique<ReplyBudget>(limits.replies);
  service_ = service;
  store_ = store;
  counters_ = counters;
  inproc_ = "inproc://shovel-" + std::to_string(reinterpret_cast<uintptr_t>(this));
  try {
    std::string mon = inproc_ + "-monitor";
    if (zmq_socket_monitor(router_->handle(), mon.c_str(),
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0) {
      throw zmq::error_t();
    }
    monitor_ = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::pair);
    monitor_->connect(mon);
    for (int i = 0; i < threads; ++i) {
      std::string ep = inproc_ + "-h" + std::to_string(i);
      auto push = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::push);
      push->set(zmq::sockopt::sndhwm, 0);
      push->bind(ep);
      auto in = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::pull);
      in->set(zmq::sockopt::rcvhwm, 0);
      in->connect(ep);
      // One reply pipe per handler: the I/O thread counts each lane's
      // replies to know when the lane is idle.
      auto pull = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::pull);
      pull->set(zmq::sockopt::rcvhwm, 0);
      pull->bind(ep + "-replies");
      auto out = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::push);
      out->set(zmq::sockopt::sndhwm, 0);
      out->connect(ep + "-replies");
      to_handlers_.push_back(std::move(push));
      handler_in_.push_back(std::move(in));
      from_handlers_.push_back(std::move(pull));
      handler_out_.push_back(std::move(out));
    }
  } catch (const zmq::error_t& e) {
    return Status::Internal(std::string("cannot set up handler sockets: ") + e.what());
  }
  started_ = true;
  for (int i = 0; i < threads; ++i) handlers_.emplace_back([this, i] { HandlerLoop(i); });
  io_ = std::thread([this] { IoLoop(); });
  return Status::Ok();
}

void Server::Stop() {
  if (!started_) return;
  started_ = false;
  stop_ = true;
  if (io_.joinable()) io_.join();
  for (auto& s : to_handlers_) {
    try {
      s->send(zmq::message_t(), zmq::send_flags::none);
    } catch (const zmq::error_t&) {
    }
  }
  for (auto& t : handlers_) t.join();
  handlers_.clear();
}

namespace {

// The scheduler's questions about one request (io_scheduler.h), answered
// from its frames (routing id, header, id, payload...).
class FrameProbe final : public RequestProbe {
 public:
  FrameProbe(const std::vector<zmq::message_t>& msg, std::vector<std::string_view>& views,
             Service& service)
      : msg_(msg), views_(views), service_(service) {}

  bool Cheap() override {
    auto req = Decode();
    return req.ok() && service_.Cheap(*req);
  }

  void BatchIds(std::vector<std::string_view>& ids) override {
    ids.clear();
    auto req = Decode();
    if (!req.ok()) return;
    wire::BatchReader reader(req->payload[0], req->header.aux);
    wire::Frames item;
    bool ok = reader.CheckCount().ok();
    for (uint64_t i = 0; ok && i < req->header.aux; ++i) {
      ok = reader.Next(&item).ok();
      if (ok && item.size() >= 2) ids.push_back(item[1]);
    }
    if (!ok || !reader.Finish().ok()) ids.clear();
  }

 private:
  Result<wire::Request> Decode() {
    views_.clear();
    for (size_t i = 1; i < msg_.size(); ++i) views_.push_back(View(msg_[i]));
    return wire::DecodeRequest(views_);
  }

  const std::vector<zmq::message_t>& msg_;
  std::vector<std::string_view>& views_;
  Service& service_;
};

// Replies `st` from the I/O thread to a request it does not serve (a header
// that did not decode, or a worker shutting down); needs at least a routing
// id and a 48-byte header frame (the request id and op are read raw).
void ReplyWithError(zmq::socket_t& router, std::vector<zmq::message_t>& msg,
                    const Status& st) {
  if (msg.size() < 2 || msg[1].size() != wire::kHeaderSize) return;
  const auto* p = static_cast<const unsigned char*>(msg[1].data());
  wire::Header req;
  for (int i = 7; i >= 0; --i) req.request_id = (req.request_id << 8) | p[8 + i];
  req.op = p[3] <= wire::kMaxOp ? static_cast<wire::Op>(p[3]) : wire::Op::kPing;
  ServiceReply rep = Service::Error(req, st);
  std::vector<zmq::message_t> out;
  out.push_back(std::move(msg[0]));
  out.push_back(HeaderMessage(rep.header));
  out.push_back(ToMessage(rep.payload[0]));
  SendAll(router, out);
}

}  // namespace

// Polls, asks the IoScheduler where each request runs and when to read, and
// acts: serves on this thread, sends to a handler, holds, refuses.
void Server::IoLoop() {
  std::vector<zmq::message_t> msg, reply;
  std::vector<std::string_view> views;
  bool oversized = false;
  const size_t n = to_handlers_.size();
  IoScheduler sched(n, SteadyNs());
  std::vector<zmq::pollitem_t> items(n + 2);
  ConnectionTable conns(limits_.max_connections, limits_.idle_ns);
  std::vector<zmq::message_t> held;  // the request the scheduler holds
  auto shutting_down = [&] {
    return Status::Unavailable("worker " + endpoint_ + " is shutting down");
  };
  auto serve_here = [&](std::vector<zmq::message_t>& m) {
    Serve(m, views, reply);
    SendReply(reply, SteadyNs());
    counters_->in_flight.fetch_sub(1);
  };
  // Acts on the route of a request already counted in flight; false when
  // it is held (stop reading until it may go).
  auto act = [&](std::vector<zmq::message_t>& m, const Route& r) -> bool {
    switch (r.kind) {
      case Route::kServeHere:
        serve_here(m);
        return true;
      case Route::kDispatch:
        budget_->Dispatched(View(m[0]));
        SendAll(*to_handlers_[r.to], m);
        return true;
      case Route::kHold:
        held = std::move(m);
        return false;
    }
    return true;
  };
  auto route = [&](std::vector<zmq::message_t>& m) -> bool {
    if (m.size() < 3 || oversized) {
      Status why = Status::Protocol(oversized ? "request has too many frames"
                                              : "request needs a header and an id frame");
      counters_->Malformed(why);
      ReplyWithError(*router_, m, why);
      return true;
    }
    auto h = wire::DecodeHeader(View(m[1]));
    if (!h.ok()) {
      counters_->Malformed(h.status());
      ReplyWithError(*router_, m, h.status());
      return true;
    }
    if (auth_) {
      Status allowed = Authorize(m, *h);
      if (!allowed.ok()) {
        ReplyWithError(*router_, m, allowed);
        return true;
      }
    }
    FrameProbe probe(m, views, *service_);
    counters_->in_flight.fetch_add(1);
    return act(m, sched.Place(*h, View(m[2]), probe));
  };
  // Requests parked per peer (reply_budget.h), in arrival order.
  std::unordered_map<std::string, std::deque<std::vector<zmq::message_t>>> parked;
  auto bytes_of = [](const std::vector<zmq::message_t>& m) {
    uint64_t b = 0;
    for (const auto& f : m) b += f.size();
    return b;
  };
  auto drop_parked = [&](const std::string& peer) {
    auto it = parked.find(peer);
    if (it == parked.end()) return;
    for (auto& m : it->second) budget_->Unparked(peer, bytes_of(m));
    parked.erase(it);
  };
  // The next request to route into `msg`: a parked one whose peer drained,
  // else one read from the ROUTER and admitted by the budget (others are
  // parked or answered "busy" here). False when there is none.
  auto next_request = [&]() -> bool {
    for (auto it = parked.begin(); it != parked.end(); ++it) {
      if (!budget_->MayResume(it->first)) continue;
      msg = std::move(it->second.front());
      it->second.pop_front();
      budget_->Unparked(it->first, bytes_of(msg));
      if (it->second.empty()) parked.erase(it);
      oversized = false;
      return true;
    }
    for (int k = 0; k < 256; ++k) {
      if (!RecvMessage(*router_, msg, wire::kMaxFrames + 1, oversized)) return false;
      if (oversized || msg.size() < 3) return true;  // answered as malformed
      if (IoScheduler::ForPeerWorker(View(msg[1]))) return true;
      const int64_t t = SteadyNs();
      std::string_view peer = View(msg[0]);
      switch (budget_->Admit(peer, bytes_of(msg), t)) {
        case ReplyBudget::Verdict::kServe: {
          int fd = msg[1].get(ZMQ_SRCFD);
          if (fd >= 0 && budget_->Connection(peer).first != fd) {
            budget_->SetConnection(peer, fd, PeerAddress(fd));
          }
          conns.Active(fd, t);
          return true;
        }
        case ReplyBudget::Verdict::kPark:
          parked[std::string(peer)].push_back(std::move(msg));
          break;
        case ReplyBudget::Verdict::kBusy:
          counters_->requests.CountBusy();
          ReplyWithError(
              *router_, msg,
              Status::Unavailable("worker " + endpoint_ + " is busy: " +
                                  std::to_string(budget_->queued(peer) >> 20) +
                                  " MiB of replies to this connection are not yet taken; "
                                  "read them, then retry"));
          break;
      }
    }
    return false;
  };
  try {
    for (;;) {
      const int64_t now = SteadyNs();
      if (stop_ && sched.Stop(now)) {
        // Requests that arrive from now on are refused rather than left
        // unanswered: a ZeroMQ client cannot see the connection close.
        for (auto& [peer, queue] : parked) {
          for (auto& m : queue) ReplyWithError(*router_, m, shutting_down());
        }
        parked.clear();
      }
      const int64_t in_flight = counters_->in_flight.load();
      if (sched.Done(now, in_flight)) break;
      const auto mode = static_cast<IoMode>(mode_.load());
      const bool refuse = sched.Refusing(mode);
      bool accept = sched.Accepting(mode, in_flight);
      for (size_t i = 0; i < n; ++i) {
        items[i] = {from_handlers_[i]->handle(), 0, ZMQ_POLLIN, 0};
      }
      short router_events = accept || refuse ? ZMQ_POLLIN : 0;
      items[n] = {router_->handle(), 0, router_events, 0};
      items[n + 1] = {monitor_->handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(items.data(), items.size(),
                std::chrono::milliseconds(sched.PollTimeoutMs(!parked.empty())));
      for (int k = 0; refuse && k < 256; ++k) {
        if (!RecvMessage(*router_, msg, wire::kMaxFrames + 1, oversized)) break;
        if (msg.size() >= 3 && !oversized) {
          auto h = wire::DecodeHeader(View(msg[1]));
          if (h.ok() && sched.ServedWhileRefusing(h->op)) {
            counters_->in_flight.fetch_add(1);
            serve_here(msg);
            continue;
          }
        }
        ReplyWithError(*router_, msg, shutting_down());
      }
      if (items[n + 1].revents & ZMQ_POLLIN) OnMonitorEvents(conns);
      for (size_t i = 0; i < n; ++i) {
        if (!(items[i].revents & ZMQ_POLLIN)) continue;
        for (int k = 0;
             k < 256 && RecvMessage(*from_handlers_[i], msg, SIZE_MAX, oversized); ++k) {
          budget_->Replied(View(msg[0]));
          SendReply(msg, SteadyNs());
          sched.Replied(i);
          counters_->in_flight.fetch_sub(1);
        }
      }
      if (auto r = sched.ReleaseHeld()) {
        act(held, *r);  // counted in flight since it was held
        held.clear();
        accept = sched.Accepting(mode, counters_->in_flight.load());
      }
      for (int k = 0; k < 256 && accept; ++k) {
        if (!next_request()) break;
        sched.RequestRead(now);
        if (!route(msg)) break;
        accept = sched.Accepting(mode, counters_->in_flight.load());
      }
      if (sched.CheckDue(now)) {
        for (const std::string& peer : budget_->Stuck(SteadyNs())) {
          Disconnect(peer);
          drop_parked(peer);
          budget_->Forget(peer);
        }
        OnMonitorEvents(conns);  // closes seen first: descriptors may be reused
        for (const auto& [fd, addr] : conns.Idle(SteadyNs())) {
          if (!addr.empty() && PeerAddress(fd) == addr) {
            ::shutdown(fd, SHUT_RDWR);
            counters_->requests.CountDisconnected();
          }
        }
      }
      if (sched.ExpiryDue(now)) {
        store_->ExpireUploads(NowNs());
        // Failures held back by the log's limit, once their second passed.
        if (counters_->errors != nullptr) counters_->errors->Flush();
        // Peers gone quiet (every connection has a routing id of its own).
        budget_->Sweep(SteadyNs(), 60'000'000'000);
      }
    }
  } catch (const zmq::error_t&) {
    // The context is closing: nothing more can be served.
  }
}

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

void Server::Serve(std::vector<zmq::message_t>& msg, std::vector<std::string_view>& views,
                   std::vector<zmq::message_t>& reply) {
  views.clear();
  for (size_t i = 1; i < msg.size(); ++i) views.push_back(View(msg[i]));
  ServiceReply rep;
  auto req = wire::DecodeRequest(views);
  if (!req.ok()) {
    counters_->Malformed(req.status());
    rep = Service::Error(*wire::DecodeHeader(views[0]), req.status());
  } else {
    try {
      rep = service_->Handle(*req, KeepPayload(msg));
    } catch (const std::bad_alloc&) {
      rep = Service::Error(req->header, Status::NoSpace("worker is out of memory"));
    }
  }
  reply.clear();
  reply.push_back(std::move(msg[0]));
  reply.push_back(HeaderMessage(rep.header));
  for (auto& f : rep.payload) reply.push_back(ToMessage(f, &store_->transit_bytes()));
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
      SendAll(out, reply);
    }
  } catch (const zmq::error_t&) {
  }
}

}  // namespace shovel::worker
