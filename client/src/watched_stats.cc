#include "watched_stats.h"

namespace shovel::client {

std::optional<BlobStat> WatchedStats::Find(std::string_view id, uint64_t generation,
                                           int64_t now_ns) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(std::string(id));
  if (it == entries_.end()) return std::nullopt;
  if (it->second.generation != generation || !it->second.grant->Use(now_ns)) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.stat;
}

void WatchedStats::Put(const BlobStat& st, std::shared_ptr<const WatchGrant> grant,
                       uint64_t generation, int64_t now_ns) {
  std::lock_guard<std::mutex> l(mu_);
  if (entries_.size() >= kMaxEntries && entries_.count(st.id) == 0) {
    std::erase_if(entries_, [&](const auto& kv) {
      return kv.second.generation != generation || !kv.second.grant->Valid(now_ns);
    });
    if (entries_.size() >= kMaxEntries) entries_.clear();
  }
  entries_[st.id] = Entry{st, std::move(grant), generation};
}

size_t WatchedStats::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return entries_.size();
}

}  // namespace shovel::client
