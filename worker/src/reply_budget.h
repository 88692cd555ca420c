// ReplyBudget: how many reply bytes the worker has handed to ZeroMQ for each
// peer (a ROUTER routing id) that ZeroMQ has not yet released, and what to do
// with a peer's next request.
//
// Requests of a peer being served on handler threads count too: at most
// `handling` at once, since their replies are built before they are counted.
// A ROUTER cannot stop reading one peer, so a peer whose replies are not
// being taken has its requests *parked*: kept unprocessed, in arrival order,
// and served once its queued bytes drain below the bound. Parking is bounded
// per peer (count and bytes); past that a request is answered "busy"
// (kUnavailable) at once, which costs a small reply. While all peers
// together hold more than `total` bytes, the requests of every peer with
// replies of its own queued (or requests on handlers) are parked; a peer
// that has taken all its replies is still served, so one stuck peer does
// not stop the others.
// A peer that had replies queued and none taken for `stuck_ns` is reported
// by Stuck() so the server can disconnect it (ZeroMQ then drops its queue,
// releasing the bytes).
//
// Thread-safety: Charge/Release of a Queue are atomic and may run on any
// thread (Release runs in ZeroMQ's free function, on its I/O thread); every
// other method belongs to the server's I/O thread (thread-compatible).
// Ownership: a Queue is shared by the table and the replies still queued for
// it, so a reply released after its peer was forgotten is still counted
// correctly in the total.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace shovel::worker {

struct ReplyLimits {
  uint64_t per_peer = 32ull << 20;  // park a peer's requests past this
  uint64_t total = 256ull << 20;    // park peers with replies queued past this
  uint64_t parked_count = 64;       // per peer; past it "busy"
  uint64_t parked_bytes = 64ull << 20;
  int64_t stuck_ns = 30'000'000'000;  // replies queued, none taken this long
  // Requests of one peer on handler threads at once (their replies are not
  // counted yet); past it the peer's requests are parked.
  uint64_t handling = 16;
};

class ReplyBudget {
 public:
  // The reply bytes of one peer in ZeroMQ's hands, and the total.
  struct Queue {
    std::atomic<int64_t> bytes{0};
    std::atomic<int64_t> last_release_ns{0};  // or the first charge after empty
    std::atomic<int64_t>* total = nullptr;
  };
  using QueuePtr = std::shared_ptr<Queue>;

  enum class Verdict { kServe, kPark, kBusy };

  explicit ReplyBudget(ReplyLimits limits) : limits_(limits) {}

  // Counts `n` reply bytes for `q` (any thread).
  static void Charge(Queue& q, int64_t n, int64_t now_ns);
  // Gives back `n` bytes that ZeroMQ released (any thread).
  static void Release(Queue& q, int64_t n, int64_t now_ns);

  // The queue of `peer`, made on first use.
  QueuePtr Peer(std::string_view peer, int64_t now_ns);
  // What to do with a request of `bytes` from `peer`; kPark counts it as
  // parked until Unparked.
  Verdict Admit(std::string_view peer, uint64_t bytes, int64_t now_ns);
  // A request of `peer` went to a handler thread / its reply came back.
  void Dispatched(std::string_view peer);
  void Replied(std::string_view peer);
  // A parked request of `peer` left the park (served or dropped).
  void Unparked(std::string_view peer, uint64_t bytes);
  // The parked requests of `peer` may be served now.
  bool MayResume(std::string_view peer) const;
  // Peers with replies queued and none taken for stuck_ns.
  std::vector<std::string> Stuck(int64_t now_ns) const;
  // Drops peers with nothing queued or parked, unseen for `idle_ns`.
  void Sweep(int64_t now_ns, int64_t idle_ns);
  // Forgets `peer` (disconnected); its replies still queued count until
  // released.
  void Forget(std::string_view peer) { peers_.erase(std::string(peer)); }

  // The socket descriptor a peer's requests came from (-1: unknown), kept
  // for the server to disconnect it; `addr` identifies the connection.
  void SetConnection(std::string_view peer, int fd, std::string addr);
  std::pair<int, std::string> Connection(std::string_view peer) const;

  int64_t total() const { return total_.load(std::memory_order_relaxed); }
  int64_t queued(std::string_view peer) const;
  size_t peers() const { return peers_.size(); }
  const ReplyLimits& limits() const { return limits_; }
  std::atomic<int64_t>* total_gauge() { return &total_; }

 private:
  struct State {
    QueuePtr queue;
    uint64_t parked = 0, parked_bytes = 0, handling = 0;
    int64_t last_seen_ns = 0;
    int fd = -1;
    std::string addr;
  };
  bool Over(const State& s) const;

  ReplyLimits limits_;
  std::atomic<int64_t> total_{0};
  std::unordered_map<std::string, State> peers_;
};

}  // namespace shovel::worker
