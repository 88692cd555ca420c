#include "watch_book.h"

#include <algorithm>

namespace shovel::client {

void ConnectionWatches::Extend(int64_t sent_ns, int64_t term_ns, int64_t now_ns) {
  const int64_t expiry = slot_->expiry_ns.load(std::memory_order_relaxed);
  if (now_ns >= expiry) DropAll();
  term_ns_ = term_ns;
  slot_->expiry_ns.store(
      std::max(slot_->expiry_ns.load(std::memory_order_relaxed), sent_ns + term_ns),
      std::memory_order_release);
}

std::shared_ptr<const WatchGrant> ConnectionWatches::Granted(const std::string& id,
                                                             int64_t sent_ns,
                                                             int64_t term_ns,
                                                             int64_t now_ns) {
  if (term_ns <= 0 || now_ns >= sent_ns + term_ns) return nullptr;
  Extend(sent_ns, term_ns, now_ns);
  slot_->used_ns.store(now_ns, std::memory_order_relaxed);
  auto grant = std::make_shared<WatchGrant>(slot_, slot_->generation.load());
  auto [it, fresh] = ids_.try_emplace(id, grant);
  if (!fresh) {
    it->second->Revoke();  // an older read of the id: asked again anyway
    it->second = grant;
  }
  return grant;
}

void ConnectionWatches::Renewed(int64_t sent_ns, int64_t term_ns, int64_t now_ns) {
  if (term_ns <= 0) {
    DropAll();
    return;
  }
  Extend(sent_ns, term_ns, now_ns);
}

void ConnectionWatches::Changed(const std::string& id) {
  auto it = ids_.find(id);
  if (it == ids_.end()) return;
  it->second->Revoke();
  ids_.erase(it);
}

void ConnectionWatches::DropAll() {
  slot_->generation.fetch_add(1, std::memory_order_acq_rel);
  for (auto& [id, grant] : ids_) grant->Revoke();
  ids_.clear();
}

}  // namespace shovel::client
