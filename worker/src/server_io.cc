// Server::IoLoop: the I/O thread. Each turn it polls the ROUTER, the
// handlers' reply pipes and the connection monitor, asks the IoScheduler
// (io_scheduler.h) where each request runs and when to read, and acts:
// serves on this thread, sends to a handler, holds, parks, refuses.
#include <sys/socket.h>

#include <deque>
#include <set>
#include <unordered_map>
#include <zmq.hpp>

#include "chunk.h"  // NowNs
#include "io_scheduler.h"
#include "server.h"
#include "server_forward.h"
#include "server_frames.h"

namespace shovel::worker {
namespace {

using frames::RecvMessage;
using frames::ReplyWithError;
using frames::SendAll;
using frames::SteadyNs;
using frames::View;

}  // namespace

// The I/O thread's state and its steps; lives for one IoLoop.
class Server::IoThread {
 public:
  explicit IoThread(Server& s)
      : s_(s),
        n_(s.to_handlers_.size()),
        sched_(n_, SteadyNs()),
        items_(n_ + 2),
        conns_(s.limits_.max_connections, s.limits_.idle_ns) {
    if (Replicator* r = s.service_->replicator()) {
      forwards_ = std::make_unique<ForwardPath>(*s.ctx_, *r, s.store_->node_id());
    }
  }

  void Run() {
    try {
      while (Turn()) {
      }
      // Stopping: replies still held for watchers go (their clients lose
      // this worker's watches with its connections).
      for (auto& held : s_.held_replies_) s_.SendNow(held.frames, SteadyNs());
      s_.held_replies_.clear();
    } catch (const zmq::error_t&) {
      // The context is closing: nothing more can be served.
    }
  }

 private:
  using Message = std::vector<zmq::message_t>;

  // One poll and what follows it; false once the loop is done.
  bool Turn() {
    const int64_t now = SteadyNs();
    if (s_.stop_ && sched_.Stop(now)) RefuseParked();
    const int64_t in_flight = s_.counters_->in_flight.load();
    if (sched_.Done(now, in_flight)) return false;
    const auto mode = static_cast<IoMode>(s_.mode_.load());
    const bool refuse = sched_.Refusing(mode);
    bool accept = sched_.Accepting(mode, in_flight);
    Poll(accept || refuse);
    if (refuse) RefuseArrivals();
    if (items_[n_ + 1].revents & ZMQ_POLLIN) s_.OnMonitorEvents(conns_);
    TakeReplies();
    TakeForwards(now);
    if (auto r = sched_.ReleaseHeld()) {
      // Counted in flight since it was held.
      Message m = std::move(held_);
      held_.clear();
      if (r->kind == Route::kPlaceAgain) {
        PlaceAgain(m);
      } else {
        Act(m, *r);
      }
      accept = sched_.Accepting(mode, s_.counters_->in_flight.load());
    }
    if (!deferred_.empty()) {
      PlaceDeferred();
      accept = sched_.Accepting(mode, s_.counters_->in_flight.load());
    }
    for (int k = 0; k < 256 && accept; ++k) {
      if (!NextRequest()) break;
      sched_.RequestRead(now);
      if (!RouteRequest(msg_)) break;
      accept = sched_.Accepting(mode, s_.counters_->in_flight.load());
    }
    s_.PumpWatches(now);
    if (sched_.CheckDue(now)) CloseStuckAndIdle();
    if (sched_.ExpiryDue(now)) Expire();
    return true;
  }

  void Poll(bool read_router) {
    for (size_t i = 0; i < n_; ++i) {
      items_[i] = {s_.from_handlers_[i]->handle(), 0, ZMQ_POLLIN, 0};
    }
    items_[n_] = {s_.router_->handle(), 0,
                  static_cast<short>(read_router ? ZMQ_POLLIN : 0), 0};
    items_[n_ + 1] = {s_.monitor_->handle(), 0, ZMQ_POLLIN, 0};
    items_.resize(n_ + 2);
    int64_t timeout = sched_.PollTimeoutMs(!parked_.empty());
    // Held replies also end when their watchers' terms run out.
    if (s_.holding_replies()) timeout = std::min<int64_t>(timeout, 2);
    if (forwards_) {
      forwards_->AddPollItems(items_);
      const int64_t next = forwards_->NextDeadlineMs(SteadyNs());
      if (next >= 0) timeout = std::min(timeout, next);
    }
    zmq::poll(items_.data(), items_.size(), std::chrono::milliseconds(timeout));
  }

  // Ends the forwards whose replicas all answered (applied and answered
  // here), failed or expired (sent to their lane's handler).
  void TakeForwards(int64_t now) {
    if (!forwards_) return;
    for (auto& e : forwards_->Collect(items_, n_ + 2)) EndForward(e);
    for (auto& e : forwards_->Expired(now)) EndForward(e);
  }

  void EndForward(ForwardPath::Entry& e) {
    if (e.failed) {
      Act(e.msg, sched_.ForwardFailed(e.id, e.lane));
      PlaceWaiting(e.id);
      return;
    }
    sched_.Forwarded(e.id);
    Finish(e);
    PlaceWaiting(e.id);
  }

  // The requests that waited for a forward of `id`, placed in their order
  // until one is forwarded again (the rest wait for that one).
  // While a request is held the rest wait for it (nothing is read
  // meanwhile): they are placed once it went (PlaceDeferred).
  void PlaceWaiting(const std::string& id) {
    auto it = waiting_.find(id);
    if (it == waiting_.end()) return;
    if (sched_.holding()) {
      deferred_.insert(id);
      return;
    }
    std::deque<Message> queue = std::move(it->second);
    waiting_.erase(it);
    while (!queue.empty()) {
      Message m = std::move(queue.front());
      queue.pop_front();
      PlaceAgain(m);
      if (auto again = waiting_.find(id); again != waiting_.end()) {
        // It waits again behind a new forward: so do the rest, in order.
        for (auto& rest : queue) again->second.push_back(std::move(rest));
        return;
      }
      if (sched_.holding() && !queue.empty()) {
        waiting_[id] = std::move(queue);
        deferred_.insert(id);
        return;
      }
    }
  }

  void PlaceDeferred() {
    while (!deferred_.empty() && !sched_.holding()) {
      std::string id = *deferred_.begin();
      deferred_.erase(deferred_.begin());
      PlaceWaiting(id);
    }
  }

  // Applies and answers a write every replica took.
  void Finish(ForwardPath::Entry& e) {
    views_.clear();
    for (size_t i = 1; i < e.msg.size(); ++i) views_.push_back(View(e.msg[i]));
    ServiceReply rep;
    auto req = wire::DecodeRequest(views_);  // decoded before it was forwarded
    {
      Watches::Scope scope(s_.watches_, View(e.msg[0]), /*client=*/false);
      try {
        rep = s_.service_->FinishFastWrite(*req, e.write, frames::KeepPayload(e.msg),
                                           e.start);
      } catch (const std::bad_alloc&) {
        rep = Service::Error(req->header, Status::NoSpace("worker is out of memory"));
      }
      if (auto hold = Watches::TakeScopeHold()) {
        s_.watches_->Register(View(e.msg[0]), req->header.request_id, *std::move(hold));
      }
    }
    s_.MakeReply(e.msg[0], rep, reply_);
    s_.SendReply(reply_, SteadyNs());
    s_.counters_->in_flight.fetch_sub(1);
  }

  // A primary's write the scheduler lets this thread forward (kForward):
  // forwarded when the Service prepares it, else routed to a handler.
  void Forward(Message& m, size_t lane) {
    if (forwards_) {
      views_.clear();
      for (size_t i = 1; i < m.size(); ++i) views_.push_back(View(m[i]));
      auto req = wire::DecodeRequest(views_);
      if (req.ok()) {
        if (auto w = s_.service_->PrepareFastWrite(*req)) {
          const std::string id(req->id);
          if (forwards_->Start(m, *req, std::move(*w), lane, SteadyNs())) {
            sched_.Forwarding(id);
            return;
          }
        }
      }
    }
    Act(m, sched_.NotForwarded(lane));
  }

  // A held request that waited for a forward: routed from the start.
  void PlaceAgain(Message& m) {
    auto h = wire::DecodeHeader(View(m[1]));  // it decoded when first placed
    frames::FrameProbe probe(m, views_, *s_.service_);
    Act(m, sched_.Place(*h, View(m[2]), probe));
  }

  Status ShuttingDown() const {
    return Status::Unavailable("worker " + s_.endpoint_ + " is shutting down");
  }

  // Requests that arrive from now on are refused rather than left
  // unanswered: a ZeroMQ client cannot see the connection close.
  void RefuseParked() {
    for (auto& [peer, queue] : parked_) {
      for (auto& m : queue) ReplyWithError(*s_.router_, m, ShuttingDown());
    }
    parked_.clear();
  }

  // While leaving or stopping: serves what the scheduler still serves
  // (NODE_STATS), answers the rest "shutting down".
  void RefuseArrivals() {
    for (int k = 0; k < 256; ++k) {
      if (!RecvMessage(*s_.router_, msg_, wire::kMaxFrames + 1, oversized_)) break;
      if (msg_.size() >= 3 && !oversized_) {
        auto h = wire::DecodeHeader(View(msg_[1]));
        if (h.ok() && sched_.ServedWhileRefusing(h->op)) {
          s_.counters_->in_flight.fetch_add(1);
          ServeHere(msg_);
          continue;
        }
      }
      ReplyWithError(*s_.router_, msg_, ShuttingDown());
    }
  }

  // Sends on the replies the handlers finished.
  void TakeReplies() {
    for (size_t i = 0; i < n_; ++i) {
      if (!(items_[i].revents & ZMQ_POLLIN)) continue;
      for (int k = 0;
           k < 256 && RecvMessage(*s_.from_handlers_[i], msg_, SIZE_MAX, oversized_);
           ++k) {
        s_.budget_->Replied(View(msg_[0]));
        s_.SendReply(msg_, SteadyNs());
        sched_.Replied(i);
        s_.counters_->in_flight.fetch_sub(1);
      }
    }
  }

  void ServeHere(Message& m) {
    s_.Serve(m, views_, reply_);
    s_.SendReply(reply_, SteadyNs());
    s_.counters_->in_flight.fetch_sub(1);
  }

  // Acts on the route of a request already counted in flight; false when
  // it is held (stop reading until it may go).
  bool Act(Message& m, const Route& r) {
    switch (r.kind) {
      case Route::kServeHere:
        ServeHere(m);
        return true;
      case Route::kDispatch:
        s_.budget_->Dispatched(View(m[0]));
        SendAll(*s_.to_handlers_[r.to], m);
        return true;
      case Route::kHold:
        held_ = std::move(m);
        return false;
      case Route::kForward:
        Forward(m, r.lane);
        return !sched_.holding();
      case Route::kWait:
        waiting_[std::string(View(m[2]))].push_back(std::move(m));
        return true;
      case Route::kPlaceAgain:
        PlaceAgain(m);
        return !sched_.holding();
    }
    return true;
  }

  // Answers a malformed or refused request, or asks the scheduler where it
  // runs and acts; false when it is held.
  bool RouteRequest(Message& m) {
    if (m.size() < 3 || oversized_) {
      Status why =
          Status::Protocol(oversized_ ? "request has too many frames"
                                      : "request needs a header and an id frame");
      s_.counters_->Malformed(why);
      ReplyWithError(*s_.router_, m, why);
      return true;
    }
    auto h = wire::DecodeHeader(View(m[1]));
    if (!h.ok()) {
      s_.counters_->Malformed(h.status());
      ReplyWithError(*s_.router_, m, h.status());
      return true;
    }
    if ((h->flags & wire::kFlagReply) && h->op == wire::Op::kChanged) {
      s_.OnChangedAnswer(m, *h);  // not a request: nothing to answer
      s_.PumpWatches(SteadyNs());
      return true;
    }
    if (s_.auth_) {
      Status allowed = s_.Authorize(m, *h);
      if (!allowed.ok()) {
        ReplyWithError(*s_.router_, m, allowed);
        return true;
      }
    }
    frames::FrameProbe probe(m, views_, *s_.service_);
    s_.counters_->in_flight.fetch_add(1);
    return Act(m, sched_.Place(*h, View(m[2]), probe));
  }

  static uint64_t BytesOf(const Message& m) {
    uint64_t b = 0;
    for (const auto& f : m) b += f.size();
    return b;
  }

  void DropParked(const std::string& peer) {
    auto it = parked_.find(peer);
    if (it == parked_.end()) return;
    for (auto& m : it->second) s_.budget_->Unparked(peer, BytesOf(m));
    parked_.erase(it);
  }

  // The next request to route into msg_: a parked one whose peer drained,
  // else one read from the ROUTER and admitted by the budget (others are
  // parked or answered "busy" here). False when there is none.
  bool NextRequest() {
    for (auto it = parked_.begin(); it != parked_.end(); ++it) {
      if (!s_.budget_->MayResume(it->first)) continue;
      msg_ = std::move(it->second.front());
      it->second.pop_front();
      s_.budget_->Unparked(it->first, BytesOf(msg_));
      if (it->second.empty()) parked_.erase(it);
      oversized_ = false;
      return true;
    }
    for (int k = 0; k < 256; ++k) {
      if (!RecvMessage(*s_.router_, msg_, wire::kMaxFrames + 1, oversized_)) return false;
      if (oversized_ || msg_.size() < 3) return true;  // answered as malformed
      if (IoScheduler::ForPeerWorker(View(msg_[1]))) return true;
      if (Admit()) return true;
    }
    return false;
  }

  // The reply budget's verdict on msg_, just read: true to serve it; else it
  // is parked or answered "busy".
  bool Admit() {
    const int64_t t = SteadyNs();
    std::string_view peer = View(msg_[0]);
    ReplyBudget& budget = *s_.budget_;
    switch (budget.Admit(peer, BytesOf(msg_), t)) {
      case ReplyBudget::Verdict::kServe: {
        int fd = msg_[1].get(ZMQ_SRCFD);
        if (fd >= 0 && budget.Connection(peer).first != fd) {
          budget.SetConnection(peer, fd, frames::PeerAddress(fd));
        }
        conns_.Active(fd, t);
        return true;
      }
      case ReplyBudget::Verdict::kPark:
        parked_[std::string(peer)].push_back(std::move(msg_));
        break;
      case ReplyBudget::Verdict::kBusy:
        s_.counters_->requests.CountBusy();
        ReplyWithError(
            *s_.router_, msg_,
            Status::Unavailable("worker " + s_.endpoint_ +
                                " is busy: " + std::to_string(budget.queued(peer) >> 20) +
                                " MiB of replies to this connection are not yet taken; "
                                "read them, then retry"));
        break;
    }
    return false;
  }

  // Disconnects peers that take no replies and connections idle too long.
  void CloseStuckAndIdle() {
    for (const std::string& peer : s_.budget_->Stuck(SteadyNs())) {
      s_.Disconnect(peer);
      DropParked(peer);
      s_.budget_->Forget(peer);
    }
    s_.OnMonitorEvents(conns_);  // closes seen first: descriptors may be reused
    for (const auto& [fd, addr] : conns_.Idle(SteadyNs())) {
      if (!addr.empty() && frames::PeerAddress(fd) == addr) {
        ::shutdown(fd, SHUT_RDWR);
        s_.counters_->requests.CountDisconnected();
      }
    }
  }

  void Expire() {
    s_.store_->ExpireUploads(NowNs());
    // Failures held back by the log's limit, once their second passed.
    if (s_.counters_->errors != nullptr) s_.counters_->errors->Flush();
    // Peers gone quiet (every connection has a routing id of its own).
    s_.budget_->Sweep(SteadyNs(), 60'000'000'000);
  }

  Server& s_;
  const size_t n_;  // handlers
  IoScheduler sched_;
  std::vector<zmq::pollitem_t> items_;  // handlers' pipes, ROUTER, monitor
  ConnectionTable conns_;
  Message msg_, reply_;
  std::vector<std::string_view> views_;
  bool oversized_ = false;  // msg_ had more frames than a request may
  Message held_;            // the request the scheduler holds
  // A primary's writes in flight to their replicas; null without a
  // Replicator.
  std::unique_ptr<ForwardPath> forwards_;
  // Requests of an id being forwarded, in arrival order (IoScheduler's
  // kWait); counted in flight.
  std::unordered_map<std::string, std::deque<Message>> waiting_;
  // Ids whose waiting requests stopped behind a held request.
  std::set<std::string> deferred_;
  // Requests parked per peer (reply_budget.h), in arrival order.
  std::unordered_map<std::string, std::deque<Message>> parked_;
};

void Server::IoLoop() { IoThread(*this).Run(); }

}  // namespace shovel::worker
