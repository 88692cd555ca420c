// Server::IoLoop: the I/O thread. It polls the ROUTER, the handlers' reply
// pipes and the connection monitor, asks the IoScheduler (io_scheduler.h)
// where each request runs and when to read, and acts.
#include <sys/socket.h>

#include <deque>
#include <unordered_map>
#include <zmq.hpp>

#include "chunk.h"  // NowNs
#include "io_scheduler.h"
#include "server.h"
#include "server_frames.h"

namespace shovel::worker {
namespace {

using frames::RecvMessage;
using frames::ReplyWithError;
using frames::SendAll;
using frames::SteadyNs;
using frames::View;

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
            budget_->SetConnection(peer, fd, frames::PeerAddress(fd));
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
          if (!addr.empty() && frames::PeerAddress(fd) == addr) {
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

}  // namespace shovel::worker
