// ZmqTransport: the ZeroMQ Transport (see transport.h for the contract).
//
// Threads: callers run Send (encode + enqueue + wake); one I/O thread owns
// every socket, the pending table and the timers, so none of those need a
// lock. Lock order: budget_mu_ and mu_ are never held together.
//
// Each endpoint gets kLanes DEALER sockets (TCP connections), served by the
// context's ZeroMQ I/O threads (ZmqTransportOptions::io_threads; two by
// default, see ClientOptions::io_threads). Call may skip the I/O thread
// (DirectCalls, direct_calls.h). A request
// goes to the lane chosen by a hash of its id (or, for upload messages, of
// its upload handle): everything about one id or one upload travels on one
// connection, so pipelined writes keep their order. BATCH messages all take
// lane 0, where those queued together merge into one message.
#include "zmq_transport.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <zmq_addon.hpp>

#include "connection_watch.h"
#include "curve_keys.h"
#include "direct_calls.h"
#include "down_endpoints.h"
#include "watch_book.h"
#include "zmq_frames.h"

namespace shovel::client {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kLanes = 2;

size_t LaneOf(const OutRequest& r) {
  // BATCH messages carry many ids (no per-id order to keep across them and
  // single requests): one lane, so concurrent ones can merge (MergeBatches).
  if (r.header.op == wire::Op::kBatch) return 0;
  if (!r.id.empty()) return std::hash<std::string_view>()(r.id) % kLanes;
  return std::hash<uint64_t>()(r.header.aux) % kLanes;
}

int64_t SteadyNs(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch())
      .count();
}

void SetDealerOptions(zmq::socket_t& s) {
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::immediate, 1);
  s.set(zmq::sockopt::sndhwm, 100000);
  s.set(zmq::sockopt::rcvhwm, 0);
  s.set(zmq::sockopt::reconnect_ivl, 100);
  s.set(zmq::sockopt::reconnect_ivl_max, 500);  // within DownEndpoints::kRecheck
  s.set(zmq::sockopt::maxmsgsize, int64_t{80} << 20);
}

class ZmqTransport : public Transport {
 public:
  explicit ZmqTransport(const ZmqTransportOptions& o);
  bool IsDown(const std::string& endpoint) override { return down_.IsDown(endpoint); }
  void MarkDown(const std::string& endpoint) override { down_.Closed(endpoint); }
  ~ZmqTransport() override;
  void Send(const std::string& endpoint, const OutRequest& request,
            ResponseCallback done) override;
  void SendMany(const RequestBatch& requests,
                std::vector<ResponseCallback> done) override;
  // A request goes on a socket of the caller's own (DirectCalls) when it
  // is kDirectAbove bytes or more, or when fewer than kDirectCalls calls are
  // in progress in this transport; otherwise through the I/O thread, where
  // many small requests share one connection and one write.
  Result<ResponsePtr> Call(const std::string& endpoint,
                           const OutRequest& request) override;
  static constexpr uint64_t kDirectAbove = 256 << 10;
  static constexpr int kDirectCalls = 8;

 private:
  struct Peer;
  struct Queued {
    std::string endpoint;
    size_t lane = 0;
    uint64_t request_id = 0;
    std::vector<zmq::message_t> frames;
    std::chrono::milliseconds deadline{0};
    bool idempotent = false;
    uint64_t bytes = 0;
    ResponseCallback done;
    std::shared_ptr<PayloadLoan> loan;
    wire::Header header;     // as sent (request_id included)
    bool mergeable = false;  // a BATCH: [header][empty id][body], nothing lent
    std::string watch_id;    // a STAT with kFlagWatch: its id
    Peer* to = nullptr;      // set: this connection (not the id's lane)
  };
  struct Peer {
    std::string endpoint;
    zmq::socket_t socket;
    std::unique_ptr<ConnectionWatch> watch;  // null if it could not be set up
    std::deque<uint64_t> backlog;            // request ids not yet accepted by ZeroMQ
    std::string server_key;                  // the worker's CURVE key it was made with
    size_t lane = 0;
    ConnectionWatches watches;  // what the worker watches for this connection
    bool renewing = false;      // a RENEW_WATCHES is in flight
  };
  struct Pending {
    Peer* peer;
    std::vector<zmq::message_t> frames;  // kept until sent (or for a retry)
    Clock::time_point deadline;
    std::chrono::milliseconds deadline_ms;
    Clock::time_point connect_by;  // given up unsent then (DownEndpoints)
    bool sent = false;
    bool idempotent = false;
    bool retried = false;
    uint64_t bytes = 0;
    ResponseCallback done;
    std::shared_ptr<PayloadLoan> loan;
    // A STAT with kFlagWatch: its id, and when it was taken to be sent.
    std::string watch_id;
    int64_t accepted_ns = 0;
  };

  // Timers of one relative duration fire in the order they were set, so
  // each duration keeps a FIFO (no per-request tree node).
  using TimerQueue = std::deque<std::pair<Clock::time_point, uint64_t>>;

  Queued Encode(const std::string& endpoint, const OutRequest& request,
                ResponseCallback done);
  void Enqueue(std::vector<Queued>& qs, uint64_t bytes);
  // Merges the BATCH requests of one drain that go to the same connection
  // with nothing else between them into one message each.
  void MergeBatches(std::vector<Queued>& qs);
  Queued Merge(std::vector<Queued>& parts);
  void AddTimer(std::chrono::milliseconds after, Clock::time_point at, uint64_t id);
  void Run();
  void Accept(Queued q);
  Peer* PeerFor(const std::string& endpoint, size_t lane);
  bool TrySend(Pending& p);  // false: ZeroMQ would block
  void FlushBacklog(Peer& peer);
  void Receive(Peer& peer);
  void FireTimers();
  void ResetPeer(Peer& peer, const std::string& why);
  // Makes again the connections whose worker's CURVE key changed.
  void FollowKeyChanges();
  // (Re)creates peer.socket with its watch and connects it.
  void Connect(Peer& peer);
  // The connection of `peer` closed: replies it already delivered are read,
  // and the requests sent on it fail (DisconnectedError).
  void Disconnected(Peer& peer);
  // The connection of `peer` failed its CURVE handshake with `error`.
  // With `cache`, later requests fail at once with it for a while
  // (DownEndpoints::Refused).
  void Refused(Peer& peer, bool cache, const Status& error);
  void Finish(uint64_t id, Result<ResponsePtr> r);
  // The worker says an id `peer` watches changed: forget it, answer.
  void OnChanged(Peer& peer, const wire::Header& h, std::vector<zmq::message_t>& msgs);
  // Sends RENEW_WATCHES on each connection with watches, every quarter term.
  void RenewWatches();
  static constexpr std::chrono::milliseconds kRenewEveryMax{1000};
  static constexpr int64_t kIdleTerms = 4;
  static std::chrono::milliseconds RenewEvery(int64_t term_ms) {
    return std::clamp(std::chrono::milliseconds(term_ms / 4),
                      std::chrono::milliseconds(10), kRenewEveryMax);
  }
  void FailEverything();
  void Wake();
  bool TryTake(uint64_t bytes);  // false: no room for `bytes` now
  void Release(uint64_t bytes);
  void FlushRelease();  // hands released_ back to the budget

  std::unique_ptr<zmq::context_t> own_context_;
  zmq::context_t* context_;
  const std::shared_ptr<CurveKeys> curve_;
  DownEndpoints down_;
  std::unique_ptr<DirectCalls> direct_;  // closed before own_context_
  std::atomic<int> calls_{0};            // Calls in progress
  const uint64_t max_inflight_bytes_;
  int wake_fd_;
  std::atomic<uint64_t> next_id_{1};

  // The byte budget is taken and given back with atomics; budget_mu_ and
  // budget_cv_ are used only while a sender waits for room.
  std::mutex budget_mu_;
  std::condition_variable budget_cv_;
  std::atomic<uint64_t> inflight_bytes_{0};
  std::atomic<int> budget_waiters_{0};

  std::mutex mu_;
  std::vector<Queued> queue_;  // guarded by mu_
  bool stop_ = false;          // guarded by mu_
  // The I/O thread is (about to be) blocked in poll with an empty queue and
  // needs an eventfd write to see new requests.
  bool io_sleeping_ = false;  // guarded by mu_

  // Owned by the I/O thread.
  std::vector<std::unique_ptr<Peer>> peers_;
  std::unordered_map<std::string, std::array<Peer*, kLanes>> peer_index_;
  std::unordered_map<uint64_t, Pending> pending_;
  std::map<std::chrono::milliseconds, TimerQueue> timers_;  // lazy: stale ids skipped
  uint64_t released_ = 0;           // bytes of finished requests not yet given back
  uint64_t key_generation_ = 0;     // CurveKeys::generation() the peers follow
  Clock::time_point next_renew_{};  // RenewWatches' next round

  std::thread thread_;
};

ZmqTransport::ZmqTransport(const ZmqTransportOptions& o)
    : context_(o.context), curve_(o.curve), max_inflight_bytes_(o.max_inflight_bytes) {
  if (!context_) {
    own_context_ = std::make_unique<zmq::context_t>(o.io_threads);
    // Each connection is three ZeroMQ sockets (the DEALER, its monitor and
    // the ConnectionWatch that reads it); ZeroMQ's default allows 1023.
    own_context_->set(zmq::ctxopt::max_sockets, 8192);
    context_ = own_context_.get();
  }
  direct_ = std::make_unique<DirectCalls>(
      *context_,
      [curve = curve_](zmq::socket_t& s, const std::string& endpoint) {
        SetDealerOptions(s);
        ApplyCurve(s, curve.get(), endpoint);
      },
      &down_, curve_.get());
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  thread_ = std::thread([this] { Run(); });
}

ZmqTransport::~ZmqTransport() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  Wake();
  thread_.join();
  close(wake_fd_);
}

void ZmqTransport::Wake() {
  uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof one);
  (void)n;  // EAGAIN means the counter is already non-zero: awake anyway
}

ZmqTransport::Queued ZmqTransport::Encode(const std::string& endpoint,
                                          const OutRequest& request,
                                          ResponseCallback done) {
  Queued q;
  q.endpoint = endpoint;
  q.lane = LaneOf(request);
  q.request_id = next_id_.fetch_add(1, std::memory_order_relaxed);
  wire::Header h = request.header;
  h.request_id = q.request_id;
  zmq::message_t header(wire::kHeaderSize);
  wire::EncodeHeader(h, static_cast<char*>(header.data()));
  q.frames.reserve(2 + request.payload.size() + (request.frame ? 1 : 0));
  q.frames.push_back(std::move(header));
  q.frames.emplace_back(request.id.data(), request.id.size());
  q.bytes = wire::kHeaderSize + request.id.size();
  for (std::string_view p : request.payload) {
    q.bytes += p.size();
    if (!request.loan || p.size() < PayloadLoan::kLendAbove) {
      q.frames.emplace_back(p.data(), p.size());
      continue;
    }
    // Lent: ZeroMQ reads the caller's bytes; the free function returns them.
    request.loan->Lend();
    auto* hold = new std::shared_ptr<PayloadLoan>(request.loan);
    q.frames.emplace_back(
        const_cast<char*>(p.data()), p.size(),
        [](void*, void* hint) {
          auto* loan = static_cast<std::shared_ptr<PayloadLoan>*>(hint);
          (*loan)->Return();
          delete loan;
        },
        hold);
  }
  if (request.frame) {
    q.bytes += request.frame->bytes.size();
    q.frames.push_back(ToMessage(*request.frame));
  }
  q.header = h;
  q.mergeable = h.op == wire::Op::kBatch && request.id.empty() &&
                request.payload.empty() && request.frame.has_value() && !request.loan;
  q.loan = request.loan;
  if (h.flags & wire::kFlagWatch) q.watch_id = std::string(request.id);
  q.deadline = request.deadline;
  q.idempotent = request.idempotent;
  q.done = std::move(done);
  return q;
}

void ZmqTransport::Enqueue(std::vector<Queued>& qs, uint64_t bytes) {
  if (!TryTake(bytes)) {
    std::unique_lock<std::mutex> lock(budget_mu_);
    budget_waiters_.fetch_add(1);
    budget_cv_.wait(lock, [&] { return TryTake(bytes); });
    budget_waiters_.fetch_sub(1);
  }
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& q : qs) queue_.push_back(std::move(q));
    // Only a sleeping I/O thread needs the eventfd (one writer per sleep);
    // an awake one takes the queue before it polls again.
    wake = io_sleeping_;
    io_sleeping_ = false;
  }
  if (wake) Wake();
}

void ZmqTransport::Send(const std::string& endpoint, const OutRequest& request,
                        ResponseCallback done) {
  std::vector<Queued> one;
  one.push_back(Encode(endpoint, request, std::move(done)));
  Enqueue(one, one[0].bytes);
}

Result<ResponsePtr> ZmqTransport::Call(const std::string& endpoint,
                                       const OutRequest& request) {
  uint64_t bytes = request.frame ? request.frame->bytes.size() : 0;
  for (std::string_view p : request.payload) bytes += p.size();
  int before = calls_.fetch_add(1, std::memory_order_relaxed);
  struct Leave {
    std::atomic<int>& calls;
    ~Leave() { calls.fetch_sub(1, std::memory_order_relaxed); }
  } leave{calls_};
  // A watch lives on a connection the I/O thread reads (CHANGED comes
  // unasked), not on a caller's own socket.
  if ((bytes < kDirectAbove && before >= kDirectCalls) ||
      (request.header.flags & wire::kFlagWatch)) {
    return Transport::Call(endpoint, request);
  }
  Queued q = Encode(endpoint, request, nullptr);
  return direct_->Call(endpoint, std::move(q.frames), q.request_id, q.deadline,
                       q.idempotent, /*bulk_write=*/bytes >= kDirectAbove);
}

void ZmqTransport::SendMany(const RequestBatch& requests,
                            std::vector<ResponseCallback> done) {
  std::vector<Queued> qs;
  qs.reserve(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    qs.push_back(Encode(requests[i].first, requests[i].second, std::move(done[i])));
  }
  // A batch larger than the budget goes in pieces (each waits for room).
  std::vector<Queued> part;
  uint64_t part_bytes = 0;
  for (auto& q : qs) {
    if (!part.empty() && part_bytes + q.bytes > max_inflight_bytes_ / 2) {
      Enqueue(part, part_bytes);
      part.clear();
      part_bytes = 0;
    }
    part_bytes += q.bytes;
    part.push_back(std::move(q));
  }
  if (!part.empty()) Enqueue(part, part_bytes);
}

// Concurrent MultiSet/MultiGet callers each send a BATCH; a drain holds
// about two of them at 50 callers. One message instead of several saves a
// send and a receive on every hop (I/O thread, ZeroMQ's thread, TCP, the
// worker). Only neighbours on one connection merge, so the order of the
// messages on each connection is kept.
void ZmqTransport::MergeBatches(std::vector<Queued>& qs) {
  constexpr uint64_t kMaxMergedBody = 4 << 20;
  std::vector<Queued> out;
  std::vector<Queued> group;  // mergeable, same endpoint and lane
  auto close = [&] {
    if (group.size() == 1) out.push_back(std::move(group[0]));
    if (group.size() > 1) out.push_back(Merge(group));
    group.clear();
  };
  bool any = false;
  for (size_t i = 0; i + 1 < qs.size() && !any; ++i) any = qs[i].mergeable;
  if (!any) return;
  uint64_t count = 0, body = 0;
  for (auto& q : qs) {
    bool joins = !group.empty() && q.mergeable && q.endpoint == group[0].endpoint &&
                 q.lane == group[0].lane &&
                 count + q.header.aux <= wire::kMaxBatchItems &&
                 body + q.frames[2].size() <= kMaxMergedBody;
    bool same_connection =
        !group.empty() && q.endpoint == group[0].endpoint && q.lane == group[0].lane;
    if (!joins && (q.mergeable || same_connection)) close();
    if (q.mergeable) {
      if (group.empty()) count = body = 0;
      count += q.header.aux;
      body += q.frames[2].size();
      group.push_back(std::move(q));
    } else {
      out.push_back(std::move(q));
    }
  }
  close();
  qs.swap(out);
}

ZmqTransport::Queued ZmqTransport::Merge(std::vector<Queued>& parts) {
  Queued m;
  m.endpoint = parts[0].endpoint;
  m.lane = parts[0].lane;
  m.request_id = next_id_.fetch_add(1, std::memory_order_relaxed);
  m.header = parts[0].header;
  m.header.request_id = m.request_id;
  m.header.aux = 0;
  size_t body = 0;
  m.deadline = parts[0].deadline;
  m.idempotent = true;
  m.bytes = 0;
  for (const auto& p : parts) {
    m.header.aux += p.header.aux;
    body += p.frames[2].size();
    m.deadline = std::min(m.deadline, p.deadline);
    m.idempotent = m.idempotent && p.idempotent;
    m.bytes += p.bytes;
  }
  zmq::message_t header(wire::kHeaderSize);
  wire::EncodeHeader(m.header, static_cast<char*>(header.data()));
  zmq::message_t merged(body);
  char* at = static_cast<char*>(merged.data());
  auto split = std::make_shared<std::vector<BatchPart>>();
  for (auto& p : parts) {
    std::memcpy(at, p.frames[2].data(), p.frames[2].size());
    at += p.frames[2].size();
    split->push_back({p.header.aux, p.request_id, std::move(p.done)});
  }
  m.frames.push_back(std::move(header));
  m.frames.emplace_back();  // the empty id frame
  m.frames.push_back(std::move(merged));
  m.done = [split](Result<ResponsePtr> r) { SplitBatchReply(*split, std::move(r)); };
  return m;
}

bool ZmqTransport::TryTake(uint64_t bytes) {
  uint64_t cur = inflight_bytes_.load();
  while (cur == 0 || cur + bytes <= max_inflight_bytes_) {
    if (inflight_bytes_.compare_exchange_weak(cur, cur + bytes)) return true;
  }
  return false;
}

void ZmqTransport::Release(uint64_t bytes) {
  inflight_bytes_.fetch_sub(bytes);
  // Both seq_cst: a waiter that registered after this load re-checks the
  // budget under budget_mu_ and sees the bytes given back.
  if (budget_waiters_.load() == 0) return;
  std::lock_guard<std::mutex> lock(budget_mu_);
  budget_cv_.notify_all();
}

void ZmqTransport::FlushRelease() {
  if (released_ == 0) return;
  Release(released_);
  released_ = 0;
}

void ZmqTransport::AddTimer(std::chrono::milliseconds after, Clock::time_point at,
                            uint64_t id) {
  timers_[after].emplace_back(at, id);
}

ZmqTransport::Peer* ZmqTransport::PeerFor(const std::string& endpoint, size_t lane) {
  auto it = peer_index_.find(endpoint);
  if (it != peer_index_.end() && it->second[lane]) return it->second[lane];
  auto peer = std::make_unique<Peer>();
  peer->endpoint = endpoint;
  try {
    Connect(*peer);
  } catch (const zmq::error_t& e) {
    return nullptr;
  }
  Peer* raw = peer.get();
  raw->lane = lane;
  peers_.push_back(std::move(peer));
  peer_index_[endpoint][lane] = raw;
  return raw;
}

void ZmqTransport::Accept(Queued q) {
  if (auto refused = down_.RefusedError(q.endpoint)) {
    Release(q.bytes);
    q.done(*refused);
    return;
  }
  Peer* peer = q.to != nullptr ? q.to : PeerFor(q.endpoint, q.lane);
  if (!peer) {
    Release(q.bytes);
    q.done(Status::InvalidArgument("cannot connect to '" + q.endpoint +
                                   "': not a valid ZeroMQ endpoint"));
    return;
  }
  Pending p;
  p.peer = peer;
  p.frames = std::move(q.frames);
  p.deadline_ms = q.deadline;
  const auto now = Clock::now();
  p.deadline = now + q.deadline;
  p.connect_by = down_.ConnectBy(q.endpoint, now, p.deadline);
  if (p.connect_by < p.deadline) {
    AddTimer(DownEndpoints::kRecheck, p.connect_by, q.request_id);
  }
  p.idempotent = q.idempotent;
  p.bytes = q.bytes;
  p.done = std::move(q.done);
  p.loan = std::move(q.loan);
  if (!q.watch_id.empty()) {
    p.watch_id = std::move(q.watch_id);
    p.accepted_ns = SteadyNs(now);
  }
  AddTimer(q.deadline, p.deadline, q.request_id);
  if (p.idempotent) {
    AddTimer(q.deadline - q.deadline / 2, p.deadline - q.deadline / 2, q.request_id);
  }
  auto [it, inserted] = pending_.emplace(q.request_id, std::move(p));
  if (!peer->backlog.empty() || !TrySend(it->second)) {
    peer->backlog.push_back(q.request_id);
  }
}

bool ZmqTransport::TrySend(Pending& p) {
  // A multipart message is queued atomically: if the first frame is taken,
  // the rest are too.
  try {
    for (size_t i = 0; i < p.frames.size(); ++i) {
      zmq::message_t copy;
      zmq::message_t& out = p.idempotent ? copy : p.frames[i];
      if (p.idempotent) copy.copy(p.frames[i]);
      auto flags = zmq::send_flags::dontwait;
      if (i + 1 < p.frames.size()) flags = flags | zmq::send_flags::sndmore;
      auto sent = p.peer->socket.send(out, flags);
      if (!sent) return false;
    }
  } catch (const zmq::error_t&) {
    return false;
  }
  p.sent = true;
  if (!p.idempotent) p.frames.clear();
  return true;
}

void ZmqTransport::FlushBacklog(Peer& peer) {
  while (!peer.backlog.empty()) {
    auto it = pending_.find(peer.backlog.front());
    if (it != pending_.end() && !TrySend(it->second)) return;
    peer.backlog.pop_front();
  }
}

void ZmqTransport::Receive(Peer& peer) {
  std::vector<zmq::message_t> msgs;
  for (int budget = 0; budget < 4096; ++budget) {
    msgs.clear();
    try {
      auto n = zmq::recv_multipart(peer.socket, std::back_inserter(msgs),
                                   zmq::recv_flags::dontwait);
      if (!n) return;
    } catch (const zmq::error_t&) {
      return;
    }
    if (msgs.empty()) continue;
    auto header = wire::DecodeHeader(msgs[0].to_string_view());
    if (!header.ok()) continue;  // not ours to answer: drop
    if (!(header->flags & wire::kFlagReply)) {
      if (header->op == wire::Op::kChanged) OnChanged(peer, *header, msgs);
      continue;
    }
    uint64_t id = header->request_id;
    auto p = pending_.find(id);
    if (p == pending_.end()) continue;  // late reply after a deadline/retry
    down_.Reached(peer.endpoint);
    auto resp = std::make_unique<Response>();
    TakeReply(std::move(msgs), *resp);
    Status decoded = DecodeResponse(*resp, peer.endpoint);
    if (!decoded.ok()) {
      Finish(id, std::move(decoded));
      continue;
    }
    const wire::Header& rh = resp->reply.header;
    if (!p->second.watch_id.empty() && (rh.flags & wire::kFlagWatch) &&
        rh.status == Code::kOk && p->second.peer == &peer) {
      const auto term = static_cast<int64_t>(std::min<uint64_t>(rh.aux, 3'600'000));
      resp->watch = peer.watches.Granted(p->second.watch_id, p->second.accepted_ns,
                                         term * 1'000'000, SteadyNs(Clock::now()));
      // Renewed from a quarter of the term on.
      next_renew_ = std::min(next_renew_, Clock::now() + RenewEvery(term));
    }
    Finish(id, std::move(resp));
  }
}

void ZmqTransport::OnChanged(Peer& peer, const wire::Header& h,
                             std::vector<zmq::message_t>& msgs) {
  if (msgs.size() >= 2) peer.watches.Changed(msgs[1].to_string());
  // The answer lets the worker acknowledge the change without waiting for
  // the term to run out; if it cannot go now the worker waits for that.
  wire::Header answer;
  answer.op = wire::Op::kChanged;
  answer.flags = wire::kFlagReply;
  answer.request_id = h.request_id;
  zmq::message_t header(wire::kHeaderSize);
  wire::EncodeHeader(answer, static_cast<char*>(header.data()));
  try {
    if (peer.socket.send(header, zmq::send_flags::dontwait | zmq::send_flags::sndmore)) {
      (void)peer.socket.send(zmq::message_t(), zmq::send_flags::dontwait);
    }
  } catch (const zmq::error_t&) {
  }
}

void ZmqTransport::RenewWatches() {
  const auto now = Clock::now();
  if (now < next_renew_) return;
  int64_t every = kRenewEveryMax.count() * 1'000'000;
  for (auto& owned : peers_) {
    Peer* peer = owned.get();
    if (peer->watches.empty()) continue;
    // Unused for kIdleTerms: let them lapse (the worker forgets them a
    // term later, and its writers stop waiting for this client).
    if (SteadyNs(now) - peer->watches.used_ns() > kIdleTerms * peer->watches.term_ns()) {
      peer->watches.DropAll();
      continue;
    }
    every = std::min<int64_t>(
        every, std::chrono::nanoseconds(RenewEvery(peer->watches.term_ns() / 1'000'000))
                   .count());
    if (peer->renewing) continue;
    peer->renewing = true;
    Queued q;
    q.endpoint = peer->endpoint;
    q.lane = peer->lane;
    q.to = peer;
    q.request_id = next_id_.fetch_add(1, std::memory_order_relaxed);
    q.header.op = wire::Op::kRenewWatches;
    q.header.request_id = q.request_id;
    zmq::message_t header(wire::kHeaderSize);
    wire::EncodeHeader(q.header, static_cast<char*>(header.data()));
    q.frames.push_back(std::move(header));
    q.frames.emplace_back();  // the empty id frame
    q.deadline = std::chrono::milliseconds(
        std::max<int64_t>(peer->watches.term_ns() / 1'000'000, 100));
    q.bytes = 0;  // not taken from the budget
    const int64_t sent = SteadyNs(now);
    q.done = [peer, sent](Result<ResponsePtr> r) {
      peer->renewing = false;
      const int64_t at = SteadyNs(Clock::now());
      if (!r.ok() || (*r)->reply.header.status != Code::kOk) {
        peer->watches.DropAll();
        return;
      }
      const auto term =
          static_cast<int64_t>(std::min<uint64_t>((*r)->reply.header.aux, 3'600'000));
      peer->watches.Renewed(sent, term * 1'000'000, at);
    };
    Accept(std::move(q));
  }
  next_renew_ = now + std::chrono::nanoseconds(every);
}

void ZmqTransport::Finish(uint64_t id, Result<ResponsePtr> r) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  ResponseCallback done = std::move(it->second.done);
  uint64_t bytes = it->second.bytes;
  pending_.erase(it);
  released_ += bytes;
  done(std::move(r));
}

void ZmqTransport::FireTimers() {
  auto now = Clock::now();
  for (auto& [after, queue] : timers_) {
    while (!queue.empty()) {
      uint64_t id = queue.front().second;
      auto it = pending_.find(id);
      // Finished requests leave the front early, so a queue holds about the
      // requests in flight, not a deadline's worth of finished ones.
      if (it != pending_.end() && queue.front().first > now) break;
      queue.pop_front();
      if (it == pending_.end()) continue;
      Pending& p = it->second;
      if (!p.sent && now >= p.connect_by) {
        auto waited = p.connect_by - (p.deadline - p.deadline_ms);
        Finish(id, down_.NoConnection(p.peer->endpoint, waited, p.deadline_ms));
        continue;
      }
      if (now < p.deadline) {  // retry point of an idempotent request
        if (p.sent && !p.retried) {
          p.retried = true;
          TrySend(p);  // same request id: whichever reply comes first wins
        }
        continue;
      }
      std::string ms = std::to_string(p.deadline_ms.count());
      Status s = Status::Timeout("worker " + p.peer->endpoint +
                                 " did not answer within " + ms + " ms");
      // Sent (an unsent one ended at its connect_by, at the latest its
      // deadline). Lent bytes still held by ZeroMQ (queued or being
      // written): only closing the connection makes it let go of them.
      Peer* reset = p.loan && p.loan->Outstanding() ? p.peer : nullptr;
      Finish(id, std::move(s));
      if (reset) ResetPeer(*reset, "after a request on it timed out");
    }
  }
}

void ZmqTransport::Connect(Peer& peer) {
  peer.watches.DropAll();  // a new connection: the worker watches nothing for it
  peer.watch.reset();
  peer.socket = zmq::socket_t(*context_, zmq::socket_type::dealer);
  SetDealerOptions(peer.socket);
  if (curve_) peer.server_key = curve_->ServerKey(peer.endpoint);
  ApplyCurve(peer.socket, curve_.get(), peer.endpoint);
  peer.watch = ConnectionWatch::Attach(*context_, peer.socket);
  peer.socket.connect(peer.endpoint);
}

void ZmqTransport::Disconnected(Peer& peer) {
  Receive(peer);
  // Its CHANGED notices cannot arrive any more (on reconnecting the worker
  // sees a new connection).
  peer.watches.DropAll();
  std::vector<uint64_t> lost;
  for (const auto& [id, p] : pending_) {
    if (p.peer == &peer && p.sent) lost.push_back(id);
  }
  if (!lost.empty()) down_.Closed(peer.endpoint);
  for (uint64_t id : lost) Finish(id, DisconnectedError(peer.endpoint));
}

void ZmqTransport::Refused(Peer& peer, bool cache, const Status& error) {
  if (cache) down_.Refused(peer.endpoint, error);
  // Nothing was sent on a connection that never finished its handshake:
  // every request waiting for this peer fails with the reason.
  std::vector<uint64_t> lost;
  for (const auto& [id, p] : pending_) {
    if (p.peer == &peer) lost.push_back(id);
  }
  peer.backlog.clear();
  peer.watches.DropAll();
  for (uint64_t id : lost) Finish(id, error);
}

void ZmqTransport::ResetPeer(Peer& peer, const std::string& why) {
  try {
    peer.socket.close();  // linger 0: ZeroMQ drops (and frees) what it holds
    Connect(peer);
  } catch (const zmq::error_t&) {
    // The next send on it fails: its requests then time out.
  }
  // Replies to what was sent on the old connection cannot arrive any more.
  std::vector<uint64_t> lost;
  for (const auto& [id, p] : pending_) {
    if (p.peer == &peer && p.sent) lost.push_back(id);
  }
  for (uint64_t id : lost) {
    Finish(id, Status::Unavailable("connection to worker " + peer.endpoint +
                                   " was reset " + why));
  }
}

void ZmqTransport::FollowKeyChanges() {
  if (!curve_) return;
  curve_->Refresh();  // a worker key file edited by the operator
  if (curve_->generation() == key_generation_) return;
  key_generation_ = curve_->generation();
  for (auto& p : peers_) {
    // A worker restarted with a new key pair at the same address: the old
    // socket would keep offering the old key on every reconnect.
    if (curve_->ServerKey(p->endpoint) == p->server_key) continue;
    down_.KeyChanged(p->endpoint);
    ResetPeer(*p, "when the worker's key changed");
  }
}

void ZmqTransport::FailEverything() {
  std::vector<Queued> queued;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queued.swap(queue_);
  }
  for (auto& q : queued) {
    Release(q.bytes);
    q.done(Status::Unavailable("the client is shutting down"));
  }
  while (!pending_.empty()) {
    Finish(pending_.begin()->first, Status::Unavailable("the client is shutting down"));
  }
  FlushRelease();
  peers_.clear();
}

void ZmqTransport::Run() {
  std::vector<zmq::pollitem_t> items;
  std::vector<Queued> batch;
  for (;;) {
    items.clear();
    items.push_back({nullptr, wake_fd_, ZMQ_POLLIN, 0});
    // Two items per peer: its socket and its watch (ignored without one).
    for (auto& p : peers_) {
      short ev = ZMQ_POLLIN | (p->backlog.empty() ? 0 : ZMQ_POLLOUT);
      items.push_back({p->socket.handle(), 0, ev, 0});
      if (p->watch) {
        items.push_back({p->watch->events().handle(), 0, ZMQ_POLLIN, 0});
      } else {
        items.push_back({nullptr, -1, 0, 0});
      }
    }
    long timeout_ms = -1;
    std::optional<Clock::time_point> next_timer;
    for (auto& [after, queue] : timers_) {
      if (!queue.empty() && (!next_timer || queue.front().first < *next_timer)) {
        next_timer = queue.front().first;
      }
    }
    bool watching = false;
    for (auto& p : peers_) watching = watching || !p->watches.empty();
    if (watching && (!next_timer || next_renew_ < *next_timer)) next_timer = next_renew_;
    if (next_timer) {
      auto d = *next_timer - Clock::now();
      timeout_ms = std::max<long>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(d).count() + 1);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Requests that came while this thread was busy: take them at once.
      if (!queue_.empty() || stop_) timeout_ms = 0;
      io_sleeping_ = timeout_ms != 0;
    }
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(timeout_ms));
    } catch (const zmq::error_t&) {
      // EINTR: loop again
    }
    if (items[0].revents & ZMQ_POLLIN) {
      uint64_t v;
      ssize_t n = read(wake_fd_, &v, sizeof v);
      (void)n;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
      io_sleeping_ = false;
      batch.swap(queue_);
    }
    FollowKeyChanges();
    MergeBatches(batch);
    for (auto& q : batch) Accept(std::move(q));
    batch.clear();
    for (size_t k = 0; 1 + 2 * k < items.size(); ++k) {
      Peer& peer = *peers_[k];
      if (items[1 + 2 * k].revents & ZMQ_POLLIN) Receive(peer);
      if (items[2 + 2 * k].revents & ZMQ_POLLIN) {
        auto ev = peer.watch->TakeEvents();
        bool verdict =
            ev.handshake_failed && IsKeyVerdict(ev.handshake_failed, ev.value,
                                                down_.HandshakeFailed(peer.endpoint));
        if (verdict && curve_ && IsWorkerKeyMismatch(ev.handshake_failed, ev.value) &&
            curve_->KeyRejected(peer.endpoint, peer.server_key)) {
          // A worker restarted with the next key of a rotation: connect
          // again with it; the requests waiting for the handshake go on it.
          down_.KeyChanged(peer.endpoint);
          ResetPeer(peer, "when the worker's key changed");
          // It answered a handshake, so it is up (though a restart may have
          // marked it down): wait for the new connection up to the deadline.
          for (auto& [id, p] : pending_) {
            if (p.peer == &peer && !p.sent) p.connect_by = p.deadline;
          }
        } else if (verdict) {
          // Cached only while the endpoint keeps its key (with a list of
          // keys it moved to the next one for the next connection).
          const bool cache =
              !curve_ || curve_->ServerKey(peer.endpoint) == peer.server_key;
          Refused(peer, cache,
                  HandshakeError(peer.endpoint, ev.handshake_failed, ev.value,
                                 curve_ != nullptr,
                                 curve_ ? curve_->ListFor(peer.endpoint) : std::nullopt));
        } else if (ev.disconnected) {
          Disconnected(peer);
        }
      }
      if (!peer.backlog.empty()) FlushBacklog(peer);
    }
    FireTimers();
    RenewWatches();
    FlushRelease();
  }
  FailEverything();
}

}  // namespace

std::unique_ptr<Transport> NewZmqTransport(const ZmqTransportOptions& options) {
  return std::make_unique<ZmqTransport>(options);
}

}  // namespace shovel::client
