#include "leases.h"

#include <algorithm>

namespace shovel::worker {

void LeaseTable::Granted(const std::string& peer, Ns sent_at) {
  Ns& until = held_[peer];
  until = std::max(until, sent_at + kLease);
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

LeaseTable::Answer LeaseTable::Request(const std::string& peer, const std::string& node,
                                       uint64_t epoch, Ns now) {
  Grant& g = grants_[peer];
  if (!node.empty()) g.node = node;
  Answer a;
  if (g.fenced) {
    if (epoch <= g.fence) return a;  // still what it was when it missed writes
    g.fenced = false;
  }
  a.rejoined = g.epoch != epoch;
  g.epoch = epoch;
  g.released = false;
  g.at = now;
  a.granted = true;
  return a;
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
  bool newly = Fence(peer, wall_now);
  if (fenced) *fenced = newly;
  return 0;
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
