// What a client keeps of the watches workers granted its connections (the
// worker's side: worker/src/watches.h; the protocol: worker/PROTOCOL.md,
// CHANGED).
//
// A STAT sent with kFlagWatch and answered with it holds for the term the
// reply names, counted from when this client sent the request (before the
// worker counted it: so the client's term ends first). RENEW_WATCHES
// extends all of a connection's watches the same way. A watch ends when
// the worker says the id changed (Changed), when its connection's term
// runs out, and when the connection closes or the worker answers a renewal
// with no term (it restarted, or the watches ran out there): DropAll.
//
// Times are steady-clock ns, passed in.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

namespace shovel::client {

// A connection's term and generation: every watch granted under one
// generation holds until the term runs out, and ends when it moves on.
struct WatchSlot {
  std::atomic<uint64_t> generation{1};
  std::atomic<int64_t> expiry_ns{0};
  std::atomic<int64_t> used_ns{0};  // the last grant or Use of one of its watches
};

// One granted watch. Valid may be called from any thread.
class WatchGrant {
 public:
  WatchGrant(std::shared_ptr<WatchSlot> slot, uint64_t generation)
      : slot_(std::move(slot)), generation_(generation) {}
  bool Valid(int64_t now_ns) const {
    // The expiry first: a slot that moved on raised its generation before
    // it stored a later expiry, so a later expiry seen here means the
    // generation below is the new one.
    if (now_ns >= slot_->expiry_ns.load(std::memory_order_acquire)) return false;
    return slot_->generation.load(std::memory_order_acquire) == generation_ &&
           !revoked_.load(std::memory_order_acquire);
  }
  // Valid, and when it is, counts as a use of the connection's watches
  // (ConnectionWatches::used_ns).
  bool Use(int64_t now_ns) const {
    if (!Valid(now_ns)) return false;
    slot_->used_ns.store(now_ns, std::memory_order_relaxed);
    return true;
  }
  void Revoke() { revoked_.store(true, std::memory_order_release); }

 private:
  std::shared_ptr<WatchSlot> slot_;
  const uint64_t generation_;
  std::atomic<bool> revoked_{false};
};

// The watches of one connection. Thread-compatible: its owner (the
// transport's I/O thread) calls every method; grants it made are read
// anywhere.
class ConnectionWatches {
 public:
  // A reply to a STAT sent at `sent_ns` granted a watch on `id` for
  // `term_ns`.
  std::shared_ptr<const WatchGrant> Granted(const std::string& id, int64_t sent_ns,
                                            int64_t term_ns, int64_t now_ns);
  // A RENEW_WATCHES sent at `sent_ns` was answered with `term_ns` (0: the
  // worker holds none of them).
  void Renewed(int64_t sent_ns, int64_t term_ns, int64_t now_ns);
  // The worker said `id` changed.
  void Changed(const std::string& id);
  // Every watch of the connection ends.
  void DropAll();
  bool empty() const { return ids_.empty(); }
  int64_t term_ns() const { return term_ns_; }
  // When a watch of this connection was last granted or used: a client
  // stops renewing watches it no longer uses, so writers stop waiting for
  // it once they lapse.
  int64_t used_ns() const { return slot_->used_ns.load(std::memory_order_relaxed); }

 private:
  // Moves the expiry to sent + term, first dropping everything if the
  // term ran out already (the worker may have forgotten those watches).
  void Extend(int64_t sent_ns, int64_t term_ns, int64_t now_ns);

  std::shared_ptr<WatchSlot> slot_ = std::make_shared<WatchSlot>();
  std::unordered_map<std::string, std::shared_ptr<WatchGrant>> ids_;
  int64_t term_ns_ = 0;  // the last term granted
};

}  // namespace shovel::client
