// Lanes: which handler thread serves a request, and when a request must wait
// so that requests for one id apply in the order they arrived.
//
// Every id hashes to a lane (one per handler thread). A request that changes
// or depends on an id's state (anything but a GET) runs on its lane's handler,
// which serves its queue in order. GETs of an id may run side by side: while
// no write of its lane is in flight a GET goes to the least busy handler, so
// one large blob's ranged GETs (decompression) use every core. A write of a
// lane waits while GETs of that lane run elsewhere, so it never overtakes a
// GET that arrived before it; GETs never overtake a write.
//
// Pure bookkeeping for the server's I/O thread: no sockets, no locks
// (thread-compatible). Replies from one handler come back in the order its
// requests were dispatched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace shovel::worker {

class Lanes {
 public:
  explicit Lanes(size_t handlers);

  size_t size() const { return queue_.size(); }
  // Nothing of `lane` is in flight on any handler: a write may be served
  // inline, a BATCH touching it may run.
  bool Idle(size_t lane) const { return own_[lane] == 0; }
  // Nothing of any lane is in flight: a BATCH may run without knowing its
  // ids' lanes.
  bool AllIdle() const;
  // No write of `lane` is in flight: a GET may be served inline.
  bool NoWrites(size_t lane) const { return writes_[lane] == 0; }
  // A write of `lane` may be dispatched to its handler now (no GET of the
  // lane runs on another handler).
  bool WriteMayGo(size_t lane) const { return elsewhere_[lane] == 0; }
  // The handler for a GET of `lane`: its own while a write of the lane is in
  // flight (after it, in order), else the least busy one (its own on ties).
  size_t PickForRead(size_t lane) const;
  // Records a request of `lane` dispatched to handler `to`.
  void Dispatched(size_t lane, size_t to, bool read);
  // Records one reply routed from handler `from`.
  void Replied(size_t from);
  // Requests dispatched to handler `h` and not answered.
  int64_t Queued(size_t h) const { return queue_[h]; }

 private:
  struct Entry {
    size_t lane;
    bool read;
  };
  std::vector<int64_t> queue_;            // per handler: dispatched, not answered
  std::vector<int64_t> own_;              // per lane: its requests in flight anywhere
  std::vector<int64_t> writes_;           // per lane: its non-GET requests in flight
  std::vector<int64_t> elsewhere_;        // per lane: its GETs on other handlers
  std::vector<std::deque<Entry>> order_;  // per handler, in dispatch order
};

}  // namespace shovel::worker
