#include "reply_budget.h"

#include <algorithm>

namespace shovel::worker {

void ReplyBudget::Charge(Queue& q, int64_t n, int64_t now_ns) {
  // The stuck clock starts when a queue goes from empty to non-empty.
  if (q.bytes.fetch_add(n, std::memory_order_relaxed) == 0) {
    q.last_release_ns.store(now_ns, std::memory_order_relaxed);
  }
  q.total->fetch_add(n, std::memory_order_relaxed);
}

void ReplyBudget::Release(Queue& q, int64_t n, int64_t now_ns) {
  q.last_release_ns.store(now_ns, std::memory_order_relaxed);
  q.bytes.fetch_sub(n, std::memory_order_relaxed);
  q.total->fetch_sub(n, std::memory_order_relaxed);
}

ReplyBudget::QueuePtr ReplyBudget::Peer(std::string_view peer, int64_t now_ns) {
  auto [it, fresh] = peers_.try_emplace(std::string(peer));
  if (fresh) {
    it->second.queue = std::make_shared<Queue>();
    it->second.queue->total = &total_;
  }
  it->second.last_seen_ns = now_ns;
  return it->second.queue;
}

bool ReplyBudget::Over(const State& s) const {
  const int64_t bytes = s.queue->bytes.load(std::memory_order_relaxed);
  if (s.handling >= limits_.handling) return true;
  if (bytes > 0 && static_cast<uint64_t>(bytes) > limits_.per_peer) return true;
  // Past the total, only peers with something of their own queued or being
  // served wait: one stuck peer must not stop the others.
  return (bytes > 0 || s.handling > 0) && total() > 0 &&
         static_cast<uint64_t>(total()) > limits_.total;
}

ReplyBudget::Verdict ReplyBudget::Admit(std::string_view peer, uint64_t bytes,
                                        int64_t now_ns) {
  Peer(peer, now_ns);
  State& s = peers_.find(std::string(peer))->second;
  // Requests already parked go first: a later one never overtakes them.
  if (s.parked == 0 && !Over(s)) return Verdict::kServe;
  if (s.parked >= limits_.parked_count || s.parked_bytes + bytes > limits_.parked_bytes) {
    return Verdict::kBusy;
  }
  ++s.parked;
  s.parked_bytes += bytes;
  return Verdict::kPark;
}

void ReplyBudget::Dispatched(std::string_view peer) {
  auto it = peers_.find(std::string(peer));
  if (it != peers_.end()) ++it->second.handling;
}

void ReplyBudget::Replied(std::string_view peer) {
  auto it = peers_.find(std::string(peer));
  if (it != peers_.end() && it->second.handling > 0) --it->second.handling;
}

void ReplyBudget::Unparked(std::string_view peer, uint64_t bytes) {
  auto it = peers_.find(std::string(peer));
  if (it == peers_.end()) return;
  State& s = it->second;
  if (s.parked > 0) --s.parked;
  s.parked_bytes -= std::min(s.parked_bytes, bytes);
}

bool ReplyBudget::MayResume(std::string_view peer) const {
  auto it = peers_.find(std::string(peer));
  return it == peers_.end() || !Over(it->second);
}

std::vector<std::string> ReplyBudget::Stuck(int64_t now_ns) const {
  std::vector<std::string> out;
  for (const auto& [peer, s] : peers_) {
    if (s.queue->bytes.load(std::memory_order_relaxed) > 0 &&
        now_ns - s.queue->last_release_ns.load(std::memory_order_relaxed) >
            limits_.stuck_ns) {
      out.push_back(peer);
    }
  }
  return out;
}

void ReplyBudget::Sweep(int64_t now_ns, int64_t idle_ns) {
  for (auto it = peers_.begin(); it != peers_.end();) {
    const State& s = it->second;
    if (s.parked == 0 && s.handling == 0 && s.queue->bytes.load() == 0 &&
        now_ns - s.last_seen_ns > idle_ns) {
      it = peers_.erase(it);
    } else {
      ++it;
    }
  }
}

void ReplyBudget::SetConnection(std::string_view peer, int fd, std::string addr) {
  auto it = peers_.find(std::string(peer));
  if (it == peers_.end()) return;
  it->second.fd = fd;
  it->second.addr = std::move(addr);
}

std::pair<int, std::string> ReplyBudget::Connection(std::string_view peer) const {
  auto it = peers_.find(std::string(peer));
  if (it == peers_.end()) return {-1, {}};
  return {it->second.fd, it->second.addr};
}

int64_t ReplyBudget::queued(std::string_view peer) const {
  auto it = peers_.find(std::string(peer));
  return it == peers_.end() ? 0 : it->second.queue->bytes.load();
}

}  // namespace shovel::worker
