#include "watches.h"

#include <algorithm>

namespace shovel::worker {

thread_local Watches::Scope* Watches::current_ = nullptr;

Watches::Scope::Scope(Watches* w, std::string_view peer, bool client)
    : w_(w), prev_(current_), peer_(peer), client_(client) {
  current_ = this;
}

Watches::Scope::~Scope() { current_ = prev_; }

std::optional<Watches::Hold> Watches::TakeScopeHold() {
  Scope* s = current_;
  if (s == nullptr || (s->recalls_.empty() && s->not_before_ == 0)) return std::nullopt;
  Hold h{std::move(s->recalls_), s->not_before_};
  s->recalls_.clear();
  s->not_before_ = 0;
  return h;
}

Watches::Watches(const Options& o)
    : term_(o.term),
      grace_until_(o.grace && o.term > 0 ? o.started + o.term : 0),
      max_bytes_(o.max_bytes) {
  active_.store(grace_until_ != 0);
}

void Watches::UpdateActiveLocked(Ns now) {
  active_.store(!ids_.empty() || now < grace_until_, std::memory_order_relaxed);
}

Watches::Ns Watches::Grant(std::string_view id, Ns now) {
  Scope* s = current_;
  if (term_ <= 0 || s == nullptr || s->w_ != this || s->peer_.empty()) return 0;
  std::lock_guard<std::mutex> l(mu_);
  auto it = peers_.find(std::string(s->peer_));
  if (it != peers_.end() && it->second.expiry <= now) {
    DropPeerLocked(it);  // ran out: the client forgot them too
    it = peers_.end();
  }
  const std::string key(id);
  const bool known = it != peers_.end() && it->second.ids.count(key) != 0;
  if (!known) {
    const uint64_t cost = key.size() + kEntryBytes;
    if (bytes_ + cost > max_bytes_) return 0;
    if (it == peers_.end())
      it = peers_.emplace(std::string(s->peer_), PeerWatches{}).first;
    it->second.ids.insert(key);
    ids_[key].push_back(it->first);
    bytes_ += cost;
  }
  it->second.expiry = std::max(it->second.expiry, now + term_);
  active_.store(true, std::memory_order_relaxed);
  return term_;
}

Watches::Ns Watches::Renew(Ns now) {
  Scope* s = current_;
  if (term_ <= 0 || s == nullptr || s->w_ != this) return 0;
  std::lock_guard<std::mutex> l(mu_);
  auto it = peers_.find(std::string(s->peer_));
  if (it == peers_.end()) return 0;
  if (it->second.expiry <= now) {
    DropPeerLocked(it);
    UpdateActiveLocked(now);
    return 0;
  }
  it->second.expiry = now + term_;
  return term_;
}

void Watches::DropPeerLocked(std::unordered_map<std::string, PeerWatches>::iterator it) {
  for (const std::string& id : it->second.ids) {
    auto w = ids_.find(id);
    if (w != ids_.end()) {
      std::erase(w->second, it->first);
      if (w->second.empty()) ids_.erase(w);
    }
    bytes_ -= id.size() + kEntryBytes;
  }
  peers_.erase(it);
}

void Watches::Changed(std::string_view id, bool wait, Ns now) {
  if (!active_.load(std::memory_order_relaxed)) return;
  Scope* s = current_;
  const bool scoped = wait && s != nullptr && s->w_ == this;
  std::lock_guard<std::mutex> l(mu_);
  if (scoped && s->client_ && now < grace_until_) s->not_before_ = grace_until_;
  auto w = ids_.find(std::string(id));
  if (w == ids_.end()) return;
  Recall r;
  for (const std::string& peer : w->second) {
    auto p = peers_.find(peer);
    if (p == peers_.end()) continue;
    p->second.ids.erase(w->first);
    bytes_ -= w->first.size() + kEntryBytes;
    // The record stays (Sweep drops it once run out): its expiry is what a
    // recall that it does not answer waits for.
    if (p->second.expiry > now) r.waiting.push_back(peer);
  }
  std::string key = w->first;
  ids_.erase(w);
  UpdateActiveLocked(now);
  if (r.waiting.empty()) return;
  const uint64_t seq = next_seq_++;
  notices_.push_back(Notice{seq, std::move(key), r.waiting});
  notices_waiting_.store(true, std::memory_order_release);
  recalls_.emplace(seq, std::move(r));
  if (scoped) s->recalls_.push_back(seq);
}

void Watches::Register(std::string_view peer, uint64_t request_id, Hold hold) {
  std::lock_guard<std::mutex> l(mu_);
  holds_[{std::string(peer), request_id}] = std::move(hold);
  registered_.store(holds_.size(), std::memory_order_release);
}

std::optional<Watches::Hold> Watches::TakeHold(std::string_view peer,
                                               uint64_t request_id) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = holds_.find({std::string(peer), request_id});
  if (it == holds_.end()) return std::nullopt;
  Hold h = std::move(it->second);
  holds_.erase(it);
  registered_.store(holds_.size(), std::memory_order_release);
  return h;
}

std::vector<Watches::Notice> Watches::TakeNotices() {
  std::lock_guard<std::mutex> l(mu_);
  notices_waiting_.store(false, std::memory_order_relaxed);
  return std::move(notices_);
}

void Watches::Acked(std::string_view peer, uint64_t seq) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = recalls_.find(seq);
  if (it == recalls_.end()) return;
  std::erase(it->second.waiting, std::string(peer));
}

bool Watches::RecallDoneLocked(uint64_t seq, Ns now) {
  auto it = recalls_.find(seq);
  if (it == recalls_.end()) return true;
  // A peer whose watches ran out (or went) no longer uses what it read.
  std::erase_if(it->second.waiting, [&](const std::string& peer) {
    auto p = peers_.find(peer);
    return p == peers_.end() || p->second.expiry <= now;
  });
  return it->second.waiting.empty();
}

bool Watches::Done(const Hold& hold, Ns now) {
  if (now < hold.not_before) return false;
  std::lock_guard<std::mutex> l(mu_);
  for (uint64_t seq : hold.recalls) {
    if (!RecallDoneLocked(seq, now)) return false;
  }
  for (uint64_t seq : hold.recalls) recalls_.erase(seq);
  return true;
}

void Watches::Sweep(Ns now) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = peers_.begin(); it != peers_.end();) {
    auto next = std::next(it);
    if (it->second.expiry <= now) DropPeerLocked(it);
    it = next;
  }
  // Recalls no reply waits for (an eviction's) end once answered or run out.
  for (auto it = recalls_.begin(); it != recalls_.end();) {
    auto next = std::next(it);
    if (RecallDoneLocked(it->first, now)) recalls_.erase(it);
    it = next;
  }
  UpdateActiveLocked(now);
}

uint64_t Watches::bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return bytes_;
}

size_t Watches::recalls_in_flight() const {
  std::lock_guard<std::mutex> l(mu_);
  return recalls_.size();
}

}  // namespace shovel::worker
