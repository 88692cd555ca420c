// IoScheduler: every decision of the server's I/O thread (server.h), with no
// sockets, no threads and no clock of its own (times are steady-clock ns the
// caller passes). The Server polls, asks it, and acts.
//
// Where a request runs (Route):
// - A BATCH is served on the I/O thread once every lane its ids hash to is
//   idle (at once when no handler has work); until then it is held.
// - A primary's forwarded write (kFlagReplica) or a LEASE is served on the
//   I/O thread at once: never behind a handler that may itself wait for this
//   worker's replicas (two primaries would wait on each other in a cycle).
// - Anything else hashes to a lane (its id; an upload's handle). When
//   nothing it must follow is in flight (a GET: no write of its lane;
//   others: nothing of its lane) and it is cheap (Service::Cheap), it is
//   served on the I/O thread. Else a GET goes to the handler Lanes picks;
//   a write goes to its lane's handler, or is held while a GET of its lane
//   runs on another handler.
// - A primary's SET or APPEND whose lane is idle is kForward: the I/O
//   thread tries to forward it itself (server_forward.h). While it is in
//   flight every request of its id waits in the id's queue (kWait), in
//   order, and a BATCH naming it is held; a failed forward goes to the
//   lane's handler.
// While a request is held the ROUTER is not read, so nothing overtakes it.
//
// When to read (Accepting / Refusing): at most kMaxInFlight requests in
// flight, nothing held, serving (not paused, not left, not stopping); past
// that the ROUTER is not read (TCP back-pressure). A worker that left or is
// stopping reads only to refuse, except NODE_STATS while it has left.
//
// Stopping: once asked, requests are refused for a grace (kStopGraceNs when
// a request came within kActiveNs, else none), then the loop ends when
// nothing is in flight, or at kStopDeadlineNs regardless.
//
// Timers: CheckDue every kCheckEveryNs (stuck peers, idle connections),
// ExpiryDue every kExpireEveryNs (upload expiry, held-back log lines, quiet
// peers' budgets).
//
// Thread-compatible: one I/O thread owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "lanes.h"
#include "shovel/protocol.h"

namespace shovel::worker {

// What the scheduler learns about a request only when it needs to (each
// costs a decode). Implemented by the server over its frames, and by tests.
class RequestProbe {
 public:
  // The request may be served on the I/O thread (it decodes and
  // Service::Cheap says so).
  virtual bool Cheap() = 0;
  // The ids of a BATCH's items, in order; none when it does not decode
  // (it is then answered with an error, touching no id).
  virtual void BatchIds(std::vector<std::string_view>& ids) = 0;

 protected:
  ~RequestProbe() = default;
};

// Where one request runs.
struct Route {
  // kForward: a primary's SET or APPEND whose lane is idle: the I/O thread
  // may forward it to the replicas itself (Forwarding), or else routes it
  // as NotForwarded says. kWait: a request of an id being forwarded; the
  // caller keeps it in the id's queue and places it again, in order, once
  // the forward ended (reading goes on meanwhile). kPlaceAgain (from
  // ReleaseHeld only): Place the held request again.
  enum Kind { kServeHere, kDispatch, kHold, kForward, kWait, kPlaceAgain };
  Kind kind = kServeHere;
  size_t lane = 0;    // kDispatch, kForward
  size_t to = 0;      // kDispatch: the handler
  bool read = false;  // kDispatch: a GET
};

enum class IoMode : int { kServing, kPaused, kLeft };

class IoScheduler {
 public:
  static constexpr int64_t kMaxInFlight = 512;
  static constexpr int64_t kStopGraceNs = 100'000'000;
  static constexpr int64_t kActiveNs = 1'000'000'000;
  static constexpr int64_t kStopDeadlineNs = 30'000'000'000;
  static constexpr int64_t kCheckEveryNs = 100'000'000;
  static constexpr int64_t kExpireEveryNs = 1'000'000'000;
  static constexpr int kPollMs = 50;
  static constexpr int kPollBusyMs = 5;  // stopping, or requests parked

  IoScheduler(size_t handlers, int64_t now_ns);

  // --- where requests run ---
  // Routes a request with a decoded header `h` and id frame `id`. kDispatch
  // is recorded as dispatched; kHold keeps the request's place until
  // ReleaseHeld gives its route.
  Route Place(const wire::Header& h, std::string_view id, RequestProbe& probe);
  bool holding() const { return hold_ != Hold::kNone; }
  // The held request's route once it may go (kServeHere for a BATCH,
  // kDispatch for a write, recorded), ending the hold; nullopt meanwhile.
  std::optional<Route> ReleaseHeld();
  // One reply came back from handler `from`.
  void Replied(size_t from) { lanes_.Replied(from); }

  // --- writes the I/O thread forwards itself (kForward) ---
  // Until Forwarded, every request of `id` waits (kWait), and a BATCH
  // naming it, or any upload while one is forwarded, is held: nothing of
  // the id overtakes it.
  void Forwarding(std::string_view id);
  // Its replicas answered: the id's requests go again.
  void Forwarded(std::string_view id);
  // Its forward failed: the write goes to its lane's handler (recorded,
  // returned as kDispatch), which serves it from the start; the id's
  // requests follow it there. No GET of the id runs elsewhere (they were
  // held), so it need not wait for the lane's GETs.
  Route ForwardFailed(std::string_view id, size_t lane);
  // A kForward the I/O thread did not forward: where it goes instead.
  Route NotForwarded(size_t lane) { return AfterNotCheap(lane, false); }
  size_t forwarding() const { return forwarding_.size(); }
  // The lane of an id, and of an upload handle.
  size_t LaneOf(std::string_view id) const;
  size_t LaneOfHandle(uint64_t handle) const;
  const Lanes& lanes() const { return lanes_; }

  // --- when to read ---
  // New requests may be read and routed.
  bool Accepting(IoMode mode, int64_t in_flight) const;
  // Requests are read only to be refused ("shutting down").
  bool Refusing(IoMode mode) const { return stopping_ || mode == IoMode::kLeft; }
  // While refusing, a request of `op` is still served: NODE_STATS of a
  // worker that left (shovelctl drain follows its progress).
  bool ServedWhileRefusing(wire::Op op) const {
    return !stopping_ && op == wire::Op::kNodeStats;
  }
  int PollTimeoutMs(bool parked) const {
    return stopping_ || parked ? kPollBusyMs : kPollMs;
  }
  // A request was read (for the stop grace).
  void RequestRead(int64_t now_ns) { last_request_ns_ = now_ns; }
  // A frame the budget never parks (read raw, the header unchecked): a
  // primary's forwarded write or a LEASE, so workers never wait on each
  // other's reply budgets (their replies are small).
  static bool ForPeerWorker(std::string_view header);

  // --- stopping ---
  // True the first time: the caller refuses what it parked.
  bool Stop(int64_t now_ns);
  bool stopping() const { return stopping_; }
  // The loop may end.
  bool Done(int64_t now_ns, int64_t in_flight) const;

  // --- timers ---
  bool CheckDue(int64_t now_ns);
  bool ExpiryDue(int64_t now_ns);

 private:
  Route AfterNotCheap(size_t lane, bool read);
  bool AllIdle(const std::vector<size_t>& lanes) const;

  Lanes lanes_;
  // Whether a request of `id` (a BATCH: of its ids; by upload handle: any)
  // must wait for a forward in flight.
  bool WaitsForForward(const wire::Header& h, std::string_view id, bool by_handle,
                       RequestProbe& probe);
  // The held request's forwards are still in flight.
  bool StillWaitsForForward() const;

  enum class Hold { kNone, kBatch, kWrite, kForwarded };
  Hold hold_ = Hold::kNone;
  // kForwarded: the ids it waits for (none: until nothing is forwarded).
  std::vector<std::string> held_ids_;
  std::unordered_set<std::string> forwarding_;
  size_t held_lane_ = 0;
  std::vector<size_t> held_lanes_;
  std::vector<std::string_view> ids_;  // scratch for BatchIds
  bool stopping_ = false;
  int64_t last_request_ns_;
  int64_t grace_until_ns_ = 0;
  int64_t deadline_ns_ = 0;
  int64_t next_check_ns_;
  int64_t next_expiry_ns_;
};

}  // namespace shovel::worker
