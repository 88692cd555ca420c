// Watches: the ids that clients' connections watch on this worker (a STAT
// with kFlagWatch), so that a client may use what it read of an id without
// asking again until it is told the id changed (worker/PROTOCOL.md,
// CHANGED; docs/shovelfs.md, Opens).
//
// A watch is granted to one connection (its ROUTER routing id) for `term`
// from when its request arrived; RENEW_WATCHES extends every watch of the
// connection by `term` from when it arrives. The client counts the same
// terms from when it sent each request, so its watches end before these.
//
// A change of a watched id, once the store shows it (Changed, called with
// the store's lock held), ends the id's watches and makes a recall: CHANGED
// goes to each watcher (TakeNotices), and the reply of the request that
// made the change (the Scope of the thread that served it) is held until
// each watcher answered (Acked) or its watches ran out (Done). So a change
// is acknowledged only once no client can still use what it read before.
//
// A worker that listens on a fixed port may be reached by clients that
// hold watches from its previous run (`grace`): the replies of its writes
// in the first `term` after it started are held until then.
//
// Bounded: at most max_bytes of watches (the id's bytes plus kEntryBytes
// each); past it nothing more is granted (the client then asks each time).
// Thread-safe: one mutex, a leaf (Changed runs under the store's locks);
// Changed's fast path with nothing watched is one atomic load.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace shovel::worker {

// Steady-clock time in ns: what watches are counted in.
inline int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class Watches {
 public:
  using Ns = int64_t;
  static constexpr uint64_t kEntryBytes = 96;  // bookkeeping per watch, about
  struct Options {
    Ns term = 0;  // 0: watches are off (nothing granted, nothing held)
    Ns started = 0;
    bool grace = false;
    uint64_t max_bytes = 16ull << 20;
  };
  explicit Watches(const Options& o);
  Watches(const Watches&) = delete;
  Watches& operator=(const Watches&) = delete;

  // The request being served on this thread: whom a grant is for, and what
  // its reply waits for. Not nested; `w` may be null (then nothing is
  // granted or held). `client`: false for a worker's request (a primary's
  // forward, a hand-over's copy), which no grace after a restart holds:
  // watches are granted to clients of one copy per id only.
  class Scope {
   public:
    Scope(Watches* w, std::string_view peer, bool client = true);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    friend class Watches;
    Watches* w_;
    Scope* prev_;
    std::string_view peer_;
    bool client_;
    std::vector<uint64_t> recalls_;
    Ns not_before_ = 0;
  };

  // What a held reply waits for.
  struct Hold {
    std::vector<uint64_t> recalls;
    Ns not_before = 0;
  };
  // The current scope's hold (empty: its reply goes at once); call once,
  // after the request was served.
  static std::optional<Hold> TakeScopeHold();

  Ns term() const { return term_; }
  // A watch on `id` for the current scope's peer: the term granted (ns),
  // 0 when none (off, no scope, full). Call before reading the id.
  Ns Grant(std::string_view id, Ns now);
  // Extends every watch of the current scope's peer: the term, 0 when it
  // holds none here (they ran out, or this worker restarted).
  Ns Renew(Ns now);
  // `id` changed (or went); with `wait` the current scope's reply waits for
  // the recall (an eviction does not wait).
  void Changed(std::string_view id, bool wait, Ns now);

  // ---- The I/O thread's side ----
  // A served reply's hold, registered by the thread that served it before
  // it hands the reply on; taken (once) by the I/O thread that sends it.
  void Register(std::string_view peer, uint64_t request_id, Hold hold);
  bool holding() const { return registered_.load(std::memory_order_acquire) != 0; }
  std::optional<Hold> TakeHold(std::string_view peer, uint64_t request_id);
  // The CHANGED notices not yet sent.
  struct Notice {
    uint64_t seq = 0;
    std::string id;
    std::vector<std::string> peers;
  };
  bool has_notices() const { return notices_waiting_.load(std::memory_order_acquire); }
  std::vector<Notice> TakeNotices();
  // `peer` answered the CHANGED of recall `seq`.
  void Acked(std::string_view peer, uint64_t seq);
  // True when `hold` waits no more: each of its recalls was answered by, or
  // ran out for, every watcher, and not_before passed. Forgets the recalls
  // then.
  bool Done(const Hold& hold, Ns now);
  // Forgets the watches that ran out (call about once per term).
  void Sweep(Ns now);

  // Gauges (any thread).
  uint64_t bytes() const;
  size_t recalls_in_flight() const;

 private:
  struct PeerWatches {
    Ns expiry = 0;
    std::unordered_set<std::string> ids;
  };
  struct Recall {
    std::vector<std::string> waiting;  // peers yet to answer
  };
  static thread_local Scope* current_;

  bool RecallDoneLocked(uint64_t seq, Ns now);
  void DropPeerLocked(std::unordered_map<std::string, PeerWatches>::iterator it);
  void UpdateActiveLocked(Ns now);

  const Ns term_;
  const Ns grace_until_;
  const uint64_t max_bytes_;
  std::atomic<bool> active_{false};  // anything watched, or in grace
  std::atomic<size_t> registered_{0};
  std::atomic<bool> notices_waiting_{false};

  mutable std::mutex mu_;
  std::unordered_map<std::string, PeerWatches> peers_;             // guarded by mu_
  std::unordered_map<std::string, std::vector<std::string>> ids_;  // id -> peers
  std::map<uint64_t, Recall> recalls_;                             // guarded by mu_
  std::vector<Notice> notices_;                                    // guarded by mu_
  std::map<std::pair<std::string, uint64_t>, Hold> holds_;         // guarded by mu_
  uint64_t next_seq_ = 1;                                          // guarded by mu_
  uint64_t bytes_ = 0;                                             // guarded by mu_
};

}  // namespace shovel::worker
