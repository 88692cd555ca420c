#include "direct_calls.h"

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <zmq_addon.hpp>

#include "curve_keys.h"
#include "zmq_frames.h"

namespace shovel::client {
namespace {

using Clock = std::chrono::steady_clock;

// What ended a wait on a socket.
enum class Woke { kReady, kTimeout, kClosed, kRefused };

// Waits until `s` reports `events`, `until` passes (or a socket error, which
// callers treat the same way), or `watch` (if any) reports the connection
// closed, or its handshake failed (kRefused, the event in *refused).
Woke Wait(zmq::socket_t& s, short events, ConnectionWatch* watch, Clock::time_point until,
          ConnectionWatch::Events* refused = nullptr) {
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now());
    zmq::pollitem_t items[2] = {{s.handle(), 0, events, 0}, {nullptr, -1, 0, 0}};
    if (watch) items[1] = {watch->events().handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(items, watch ? 2 : 1, std::max(left, std::chrono::milliseconds(0)));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return Woke::kTimeout;
    }
    if (items[0].revents & events) return Woke::kReady;
    if (items[1].revents & ZMQ_POLLIN) {
      auto ev = watch->TakeEvents();
      if (ev.handshake_failed) {
        if (refused) *refused = ev;
        return Woke::kRefused;
      }
      if (ev.disconnected) {
        if (refused) *refused = ev;
        return Woke::kClosed;
      }
    }
    if (Clock::now() >= until) return Woke::kTimeout;
  }
}

// Waits until `s` reports `events` or `until` passes; false on timeout.
bool WaitFor(zmq::socket_t& s, short events, Clock::time_point until) {
  return Wait(s, events, nullptr, until) == Woke::kReady;
}

// Sends the multipart message (copies of the frames with `keep`, so it can
// be sent again); false when ZeroMQ took nothing before `until` (or the
// connection's handshake failed: refused->handshake_failed is then set).
// Once the first frame is taken the rest are too (a message is queued
// atomically).
bool SendAll(zmq::socket_t& s, std::vector<zmq::message_t>& frames, bool keep,
             Clock::time_point until, ConnectionWatch* watch = nullptr,
             ConnectionWatch::Events* refused = nullptr) {
  for (size_t i = 0; i < frames.size(); ++i) {
    zmq::message_t copy;
    zmq::message_t& out = keep ? copy : frames[i];
    if (keep) copy.copy(frames[i]);
    auto flags = zmq::send_flags::dontwait;
    if (i + 1 < frames.size()) flags = flags | zmq::send_flags::sndmore;
    for (;;) {
      try {
        if (s.send(out, flags)) break;
      } catch (const zmq::error_t&) {
        return false;
      }
      if (i > 0 || Wait(s, ZMQ_POLLOUT, watch, until, refused) != Woke::kReady) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

DirectCalls::DirectCalls(zmq::context_t& context, Configure configure,
                         DownEndpoints* down, CurveKeys* keys)
    : context_(context),
      configure_(std::move(configure)),
      keys_(keys),
      have_key_(keys != nullptr),
      down_(down) {}

DirectCalls::~DirectCalls() {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.clear();
}

DirectCalls::Pooled DirectCalls::Take(const std::string& endpoint, bool bulk,
                                      Clock::time_point until) {
  std::mutex* connect_mu;
  if (keys_) keys_->Refresh();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = idle_.find(endpoint);
    while (it != idle_.end() && !it->second.of(bulk).empty()) {
      Idle& idle = it->second.of(bulk);
      auto oldest = idle.begin();
      Pooled p = std::move(oldest->second);
      idle.erase(oldest);
      // Made with a key the worker no longer has (it was restarted with a
      // new key pair): closed, never reconnected with the old key.
      if (keys_ && p.key_generation != keys_->generation()) {
        if (keys_->ServerKey(endpoint) != p.server_key) continue;
        p.key_generation = keys_->generation();
      }
      // A disconnect while it was idle is past: ZeroMQ reconnects by itself.
      // A failed handshake is not: it counts towards the verdict on the
      // keys (IsKeyVerdict's `repeated`), and says the worker is up.
      if (p.watch && p.watch->TakeEvents().handshake_failed)
        down_->HandshakeFailed(endpoint);
      return p;
    }
    auto& m = connect_mu_[endpoint];
    if (!m) m = std::make_unique<std::mutex>();
    connect_mu = m.get();
  }
  try {
    std::lock_guard<std::mutex> lock(*connect_mu);
    Pooled p;
    p.seq = next_seq_.fetch_add(1);
    p.socket = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
    if (keys_) {
      p.key_generation = keys_->generation();
      p.server_key = keys_->ServerKey(endpoint);
    }
    configure_(*p.socket, endpoint);
    p.watch = ConnectionWatch::Attach(context_, *p.socket);
    p.socket->connect(endpoint);
    // With ZMQ_IMMEDIATE the socket is writable once connected. (A failed
    // handshake is seen by the send that follows: not read here.)
    WaitFor(*p.socket, ZMQ_POLLOUT,
            std::min(until, Clock::now() + std::chrono::milliseconds(100)));
    return p;
  } catch (const zmq::error_t&) {
    return {};
  }
}

void DirectCalls::Give(const std::string& endpoint, bool bulk, Pooled p) {
  std::lock_guard<std::mutex> lock(mu_);
  Idle& idle = idle_[endpoint].of(bulk);
  uint64_t seq = p.seq;
  idle.emplace(seq, std::move(p));
  // Keep the oldest: they sit on the worker's I/O threads in turn.
  if (idle.size() > kMaxIdle) idle.erase(std::prev(idle.end()));
}

Result<ResponsePtr> DirectCalls::Call(const std::string& endpoint,
                                      std::vector<zmq::message_t> frames,
                                      uint64_t request_id,
                                      std::chrono::milliseconds deadline, bool idempotent,
                                      bool bulk_write) {
  if (auto refused = down_->RefusedError(endpoint)) return *refused;
  const auto start = Clock::now();
  const auto until = start + deadline;
  auto connect_by = down_->ConnectBy(endpoint, start, until);
  Pooled pooled = Take(endpoint, bulk_write, connect_by);
  zmq::socket_t* s = pooled.socket.get();
  if (s == nullptr) {
    return Status::InvalidArgument("cannot connect to '" + endpoint +
                                   "': not a valid ZeroMQ endpoint");
  }
  const std::string ms = std::to_string(deadline.count());
  // Failing returns close the socket (linger 0): ZeroMQ drops what it still
  // holds.
  // A failed handshake that is no verdict on the keys yet (IsKeyVerdict):
  // wait on, ZeroMQ connects again by itself. So does a connection that
  // closed before the request went out after a key change, or while the
  // worker key file lists several keys (a rotation: a failed handshake
  // ends with a close too, which may come first).
  bool key_changed = false;
  // Keys this call's connections were refused with: once every listed key
  // was (KeyRejected may say "moved already" each time, when the I/O
  // thread's connection to the worker is refused first), the call reports
  // the mismatch rather than try another key until its deadline.
  size_t keys_refused = 0;
  for (;;) {
    ConnectionWatch::Events refused;
    if (SendAll(*s, frames, idempotent, connect_by, pooled.watch.get(), &refused)) break;
    if (refused.handshake_failed && IsKeyVerdict(refused.handshake_failed, refused.value,
                                                 down_->HandshakeFailed(endpoint))) {
      const auto list = keys_ ? keys_->ListFor(endpoint) : std::nullopt;
      if (keys_ && IsWorkerKeyMismatch(refused.handshake_failed, refused.value) &&
          ++keys_refused <= (list ? list->count : 1) &&
          keys_->KeyRejected(endpoint, pooled.server_key)) {
        // A worker restarted with the next key of a rotation: a socket
        // made with it (Take closes those made with the old one).
        down_->KeyChanged(endpoint);
        connect_by = until;  // it answered a handshake: it is up
        key_changed = true;
        pooled = Take(endpoint, bulk_write, connect_by);
        s = pooled.socket.get();
        if (s == nullptr)
          return down_->NoConnection(endpoint, connect_by - start, deadline);
        continue;
      }
      Status st =
          HandshakeError(endpoint, refused.handshake_failed, refused.value, have_key_,
                         keys_ ? keys_->ListFor(endpoint) : std::nullopt);
      // Requests fail at once with it for a while, unless the endpoint
      // moved to another listed key (the next connection tries that one).
      if (!keys_ || keys_->ServerKey(endpoint) == pooled.server_key)
        down_->Refused(endpoint, st);
      return st;
    }
    // It answered a handshake: it is up (though found down before), so
    // the verdict on the keys is waited for up to the deadline.
    if (refused.handshake_failed) connect_by = until;
    const bool wait_on =
        refused.handshake_failed ||
        (refused.disconnected && (key_changed || (keys_ && keys_->Rotating())));
    if (!wait_on || Clock::now() >= connect_by) {
      return down_->NoConnection(endpoint, connect_by - start, deadline);
    }
  }
  bool retried = !idempotent;
  bool closed = false;  // the connection closed: only what is on it is left
  for (;;) {
    auto wait_until = retried ? until : start + (deadline - deadline / 2);
    Woke woke =
        closed ? Woke::kReady : Wait(*s, ZMQ_POLLIN, pooled.watch.get(), wait_until);
    closed = closed || woke == Woke::kClosed || woke == Woke::kRefused;
    if (woke == Woke::kTimeout) {
      if (retried) {
        return Status::Timeout("worker " + endpoint + " did not answer within " + ms +
                               " ms");
      }
      retried = true;
      SendAll(*s, frames, false, until);  // same request id: first reply wins
      continue;
    }
    std::vector<zmq::message_t> msgs;
    try {
      if (!zmq::recv_multipart(*s, std::back_inserter(msgs), zmq::recv_flags::dontwait)) {
        if (closed) {
          down_->Closed(endpoint);
          return DisconnectedError(endpoint);
        }
        continue;
      }
    } catch (const zmq::error_t& e) {
      return Status::Unavailable("connection to worker " + endpoint +
                                 " failed: " + e.what());
    }
    if (msgs.empty()) continue;
    auto header = wire::DecodeHeader(msgs[0].to_string_view());
    // Not ours (a late reply to a request retried on this socket): drop it.
    if (!header.ok() || header->request_id != request_id) continue;
    down_->Reached(endpoint);
    auto resp = std::make_unique<Response>();
    TakeReply(std::move(msgs), *resp);
    SHOVEL_RETURN_IF_ERROR(DecodeResponse(*resp, endpoint));
    // A retried request may still get its second reply: do not reuse. Nor
    // a socket whose connection closed: a fresh one is as cheap.
    if (!(idempotent && retried) && !closed)
      Give(endpoint, bulk_write, std::move(pooled));
    return ResponsePtr(std::move(resp));
  }
}

}  // namespace shovel::client
