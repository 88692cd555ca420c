#include "leases.h"

#include <algorithm>
#include <iterator>

#include "shovel/hrw.h"

namespace shovel::worker {

LeaseTable::AskedFor LeaseTable::AskList(const std::string& peer, Ns now, bool in_place) {
  AskedFor out;
  if (in_place) out.list = InPlaceOf(peer, now);
  for (const auto& [p, by] : in_place_serving_) {
    if (p != peer && by.count(peer) &&
        std::find(out.list.begin(), out.list.end(), p) == out.list.end()) {
      out.list.push_back(p);
    }
  }
  out.seq = ++next_ask_;
  auto& asks = asks_[peer];
  asks[out.seq] = out.list;
  if (asks.size() > kAsksKept) asks.erase(asks.begin());
  if (auto it = covered_.find(peer); it != covered_.end()) {
    std::erase_if(it->second, [&](const std::string& p) {
      return std::find(out.list.begin(), out.list.end(), p) == out.list.end();
    });
  }
  return out;
}

void LeaseTable::Granted(const std::string& peer, Ns sent_at,
                         const std::vector<std::string>& in_place_of, uint64_t seq) {
  Ns& until = held_[peer];
  if (seq == 0) {
    // A later grant replaces what the lease covers.
    if (sent_at + kLease >= until) covered_[peer] = in_place_of;
  } else {
    // `peer` keeps the list of the latest ask it saw, which may be this
    // one or any sent since: the lease covers what all of them name.
    auto& asks = asks_[peer];
    auto it = asks.find(seq);
    if (it != asks.end()) {
      std::vector<std::string> cover = in_place_of;
      for (auto later = std::next(it); later != asks.end(); ++later) {
        std::erase_if(cover, [&](const std::string& p) {
          return std::find(later->second.begin(), later->second.end(), p) ==
                 later->second.end();
        });
      }
      covered_[peer] = std::move(cover);
      asks.erase(asks.begin(), std::next(it));
    }
  }
  until = std::max(until, sent_at + kLease);
}

bool LeaseTable::Covers(const std::string& peer,
                        const std::vector<std::string>& passed_over,
                        const std::string& self, Ns now) const {
  if (!Holds(peer, now)) return false;
  auto it = covered_.find(peer);
  for (const auto& p : passed_over) {
    if (p == self || p == peer) continue;
    if (it == covered_.end() ||
        std::find(it->second.begin(), it->second.end(), p) == it->second.end()) {
      return false;
    }
  }
  return true;
}

void LeaseTable::WantInPlace(const std::string& peer, const std::string& passed, Ns now) {
  in_place_wanted_[peer][passed] = now;
}

std::vector<std::string> LeaseTable::InPlaceOf(const std::string& peer, Ns now) const {
  std::vector<std::string> out;
  auto it = in_place_wanted_.find(peer);
  if (it == in_place_wanted_.end()) return out;
  for (const auto& [p, at] : it->second) {
    if (now - at <= kLease) out.push_back(p);
  }
  return out;
}

bool LeaseTable::Holds(const std::string& peer, Ns now) const {
  auto it = held_.find(peer);
  return it != held_.end() && now < it->second;
}

std::vector<std::string> LeaseTable::Renewals(Ns now, Ns ahead) {
  std::vector<std::string> out;
  for (auto it = wanted_.begin(); it != wanted_.end();) {
    if (now - it->second > kKeep) {
      held_.erase(it->first);
      it = wanted_.erase(it);
      continue;
    }
    auto h = held_.find(it->first);
    if (h == held_.end() || h->second - now < ahead) out.push_back(it->first);
    ++it;
  }
  return out;
}

std::pair<std::string, LeaseTable::Ns> LeaseTable::Substituted(const std::string& peer,
                                                               Ns now) const {
  for (const auto& [other, g] : grants_) {
    if (other == peer || g.released) continue;
    auto it = g.in_place.find(peer);
    if (it == g.in_place.end()) continue;
    Ns wait = it->second + kLease + kInPlaceMargin - now;
    if (wait > 0) return {other, wait};
  }
  return {};
}

LeaseTable::Answer LeaseTable::Request(const std::string& peer, const std::string& node,
                                       uint64_t epoch, Ns now,
                                       const std::vector<std::string>& in_place_of,
                                       uint64_t ask) {
  Grant& g = grants_[peer];
  if (!node.empty()) g.node = node;
  Answer a;
  if (g.fenced) {
    if (epoch <= g.fence) return a;  // still what it was when it missed writes
  }
  // Back: this worker begins to serve nothing more in its place
  // (TakeOver), and grants it a lease once what it began there is done
  // (the hand-over that follows the grant copies those writes).
  returning_[peer] = now;
  if (in_place_serving_.count(peer)) {
    a.wait = kInPlaceDrain;
    return a;
  }
  // Another worker may serve in this one's place: not until that ends.
  if (auto [other, wait] = Substituted(peer, now); wait > 0) {
    a.busy = other;
    a.wait = wait;
    return a;
  }
  // In place of a worker that may still hold a lease from here, or that
  // serves in this one's place itself: not until that ends.
  for (const auto& p : in_place_of) {
    if (p == peer) continue;
    if (Ns wait = std::max(Remaining(p, now), Back(p, now)); wait > 0) {
      a.busy = p;
      a.wait = wait;
      return a;
    }
  }
  // Not fenced here: the worker that serves in their place fences them
  // (TakeOver). A fence here too made workers that came back rejoin again
  // and again, dropping their copies each time.
  // The latest ask's list replaces the workers it may serve in place of:
  // it serves in place of no one else from that ask on (AskList).
  const uint64_t last_ask = g.epoch == epoch ? g.ask : 0;
  const bool latest = ask != 0 && ask >= last_ask;
  if (latest) g.ask = ask;
  for (auto it = g.in_place.begin(); it != g.in_place.end();) {
    const bool named =
        std::find(in_place_of.begin(), in_place_of.end(), it->first) != in_place_of.end();
    const bool over = now - it->second > kLease + kInPlaceMargin;
    it = over || (latest && !named) ? g.in_place.erase(it) : std::next(it);
  }
  for (const auto& p : in_place_of) {
    if (p != peer) g.in_place[p] = now;
  }
  g.fenced = false;
  g.released = false;
  if (g.epoch != epoch) {
    // New here, or back under a new epoch: hand it its ids now.
    a.rejoined = true;
    g.epoch = epoch;
    g.introduced = now;
  }
  // From here on it may serve, so writes that would miss its copy are
  // refused (OutrankedBy), granted or not; and it is up: nobody serves in
  // its place (fencing it again) for a lease's time (Remaining).
  g.leased = now;
  g.at = now;
  // The others whose leases may hold learn of it with their next grant:
  // only then may it serve ids that comes before one of them for.
  if (Ns wait = Introducing(peer, g.introduced, now); wait > 0) {
    a.wait = wait;
    a.introducing = true;
    return a;
  }
  g.granted = now;
  a.granted = true;
  returning_.erase(peer);
  return a;
}

LeaseTable::Ns LeaseTable::Introducing(const std::string& peer, Ns since, Ns now) const {
  Ns wait = 0;
  for (const auto& [other, g] : grants_) {
    if (other == peer || g.fenced || g.released || g.granted < 0) continue;
    if (g.granted >= since) continue;           // its grant named `peer`
    if (Remembers(other, peer, now)) continue;  // an earlier grant named it
    wait = std::max(wait, g.granted + kLease + kInPlaceMargin - now);
  }
  return wait;
}

std::vector<std::pair<std::string, std::string>> LeaseTable::Holders(
    const std::string& asker, Ns now) {
  std::vector<std::pair<std::string, std::string>> out;
  auto& told = told_[asker];
  for (auto it = told.begin(); it != told.end();) {
    it = now - it->second.at >= kLease + kMargin ? told.erase(it) : std::next(it);
  }
  for (const auto& [peer, g] : grants_) {
    if (peer != asker && g.MayHold(now)) {
      out.emplace_back(peer, g.node);
      told[peer] = {g.node, now};
    }
  }
  return out;
}

bool LeaseTable::Remembers(const std::string& holder, const std::string& peer,
                           Ns now) const {
  auto h = told_.find(holder);
  if (h == told_.end()) return false;
  auto it = h->second.find(peer);
  auto g = grants_.find(peer);
  // The holder keeps a named worker for kLease + kMargin from receiving the
  // grant (SetHolders), which is after it was sent; the margin covers the
  // two steady clocks' rates.
  return it != h->second.end() && g != grants_.end() &&
         it->second.node == g->second.node &&
         now - it->second.at < kLease + kMargin - kInPlaceMargin;
}

void LeaseTable::SetHolders(
    const std::string& peer,
    const std::vector<std::pair<std::string, std::string>>& holders, Ns now) {
  auto& named = holders_[peer];
  for (auto it = named.begin(); it != named.end();) {
    it = it->second.until <= now ? named.erase(it) : std::next(it);
  }
  for (const auto& [endpoint, node] : holders) {
    named[endpoint] = {node, now + kLease + kMargin};
  }
}

LeaseTable::Ns LeaseTable::Remaining(const std::string& peer, Ns now) const {
  auto it = grants_.find(peer);
  if (it != grants_.end() && it->second.released) return 0;
  Ns last = it == grants_.end() || it->second.at < 0 ? started_ : it->second.at;
  return std::max<Ns>(0, last + kLease + kMargin - now);
}

LeaseTable::Ns LeaseTable::TakeOver(const std::string& peer, Ns now, Ns wall_now,
                                    bool* fenced) {
  if (Ns wait = Remaining(peer, now); wait > 0) return wait;
  if (Ns wait = Back(peer, now); wait > 0) return wait;
  bool newly = Fence(peer, wall_now);
  if (fenced) *fenced = newly;
  return 0;
}

LeaseTable::Ns LeaseTable::Back(const std::string& peer, Ns now) const {
  auto it = returning_.find(peer);
  return it == returning_.end() ? 0 : std::max<Ns>(0, it->second + kLease - now);
}

void LeaseTable::BeginInPlace(const std::vector<std::string>& peers,
                              const std::vector<std::string>& replicas) {
  for (const auto& p : peers) {
    auto& by = in_place_serving_[p];
    if (replicas.empty()) ++by[""];
    for (const auto& r : replicas) ++by[r];
  }
}

void LeaseTable::EndInPlace(const std::vector<std::string>& peers,
                            const std::vector<std::string>& replicas) {
  auto end = [](std::map<std::string, int>& by, const std::string& r) {
    auto it = by.find(r);
    if (it != by.end() && --it->second <= 0) by.erase(it);
  };
  for (const auto& p : peers) {
    auto it = in_place_serving_.find(p);
    if (it == in_place_serving_.end()) continue;
    if (replicas.empty()) end(it->second, "");
    for (const auto& r : replicas) end(it->second, r);
    if (it->second.empty()) in_place_serving_.erase(it);
  }
}

bool LeaseTable::Fence(const std::string& peer, Ns wall_now) {
  // It must come back under an epoch newer than the last write it missed.
  Grant& g = grants_[peer];
  bool newly = !g.fenced;
  g.fenced = true;
  g.fence = std::max(g.fence, static_cast<uint64_t>(std::max<Ns>(wall_now, 0)));
  return newly;
}

void LeaseTable::Release(const std::string& peer) { grants_[peer].released = true; }

bool LeaseTable::Fenced(const std::string& peer) const {
  auto it = grants_.find(peer);
  return it != grants_.end() && it->second.fenced;
}

LeaseTable::Ns LeaseTable::LastGrant(const std::string& peer) const {
  auto it = grants_.find(peer);
  return it == grants_.end() ? -1 : it->second.at;
}

std::vector<std::pair<std::string, std::string>> LeaseTable::Recent(Ns now,
                                                                    Ns within) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [peer, g] : grants_) {
    bool recent = g.at >= 0 && now - g.at <= within;
    auto w = wanted_.find(peer);
    recent = recent || (w != wanted_.end() && now - w->second <= kKeep);
    if (recent && !g.node.empty()) out.emplace_back(peer, g.node);
  }
  return out;
}

void LeaseTable::SetNode(const std::string& peer, const std::string& node) {
  if (!node.empty()) grants_[peer].node = node;
}

std::string LeaseTable::OutrankedBy(std::string_view id, std::string_view self_node,
                                    const std::vector<std::string>& replicas,
                                    const std::vector<std::string>& skip, Ns now) const {
  const uint64_t mine = HrwWeight(self_node, id);
  auto before = [&](const std::string& endpoint, const std::string& node) {
    return node != self_node && ComesBefore(node, HrwWeight(node, id), self_node, mine) &&
           std::find(skip.begin(), skip.end(), endpoint) == skip.end();
  };
  for (const auto& [peer, g] : grants_) {
    // Only a lease it asked for: one that merely answered this worker
    // serves nothing under its lease.
    if (g.MayHold(now) && before(peer, g.node)) return peer;
  }
  for (const auto& r : replicas) {
    auto it = holders_.find(r);
    if (it == holders_.end()) continue;
    for (const auto& [endpoint, h] : it->second) {
      if (h.until > now && before(endpoint, h.node)) return endpoint;
    }
  }
  return "";
}

std::vector<std::string> LeaseTable::FencedPeers() const {
  std::vector<std::string> out;
  for (const auto& [peer, g] : grants_) {
    if (g.fenced) out.push_back(peer);
  }
  return out;
}

bool LeaseTable::Answered(const std::string& peer, uint64_t epoch, Ns now,
                          uint64_t* fence) {
  Grant& g = grants_[peer];
  if (g.fenced) {
    if (epoch <= g.fence) {
      *fence = g.fence;
      return false;
    }
    g.fenced = false;
  }
  bool rejoined = g.epoch != epoch;
  g.epoch = epoch;
  g.released = false;
  g.at = std::max(g.at, now);
  return rejoined;
}

}  // namespace shovel::worker
