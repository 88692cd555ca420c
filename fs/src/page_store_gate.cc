#include "shovel/fs/page_store_gate.h"

namespace shovel::fs {

void PageStoreGate::WaitIdleLocked(std::unique_lock<std::mutex>& lock, uint64_t ino) {
  idle_.wait(lock, [&] {
    auto it = inodes_.find(ino);
    return it == inodes_.end() || it->second.in_flight == 0;
  });
}

void PageStoreGate::EraseIfUnusedLocked(uint64_t ino) {
  auto it = inodes_.find(ino);
  if (it != inodes_.end() && it->second.handles == 0 && it->second.in_flight == 0) {
    inodes_.erase(it);
  }
}

void PageStoreGate::SetVersion(uint64_t ino, uint64_t version) {
  std::unique_lock lock(mu_);
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) {
    if (version == 0) return;  // nothing stored or in flight: 0 is the default
    it = inodes_.emplace(ino, Inode{}).first;
  }
  if (it->second.version == version) return;
  it->second.version = version;
  WaitIdleLocked(lock, ino);
}

void PageStoreGate::Opened(uint64_t ino, bool writable) {
  std::unique_lock lock(mu_);
  Inode& i = inodes_[ino];
  ++i.handles;
  if (!writable) return;
  ++i.writers;
  WaitIdleLocked(lock, ino);
}

void PageStoreGate::Closed(uint64_t ino, bool writable) {
  std::lock_guard lock(mu_);
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) return;
  if (it->second.handles > 0) --it->second.handles;
  if (writable && it->second.writers > 0) --it->second.writers;
  EraseIfUnusedLocked(ino);
}

bool PageStoreGate::Begin(uint64_t ino, uint64_t version) {
  std::lock_guard lock(mu_);
  if (version == 0 || in_flight_ >= max_in_flight_) return false;
  auto it = inodes_.find(ino);
  if (it == inodes_.end() || it->second.version != version || it->second.writers != 0 ||
      it->second.handles == 0) {
    return false;
  }
  ++it->second.in_flight;
  ++in_flight_;
  return true;
}

void PageStoreGate::End(uint64_t ino) {
  {
    std::lock_guard lock(mu_);
    auto it = inodes_.find(ino);
    if (it == inodes_.end() || it->second.in_flight == 0) return;
    --it->second.in_flight;
    --in_flight_;
    EraseIfUnusedLocked(ino);
  }
  idle_.notify_all();
}

size_t PageStoreGate::size() const {
  std::lock_guard lock(mu_);
  return inodes_.size();
}

}  // namespace shovel::fs
