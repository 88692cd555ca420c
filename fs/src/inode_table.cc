#include "shovel/fs/inode_table.h"

#include <utility>

namespace shovel::fs {

InodeTable::InodeTable() {
  slots_.resize(2);
  Slot& root = slots_[kRootIno];
  root.used = true;
  root.info.is_dir = true;
  root.info.generation = 1;
  root.info.nlookup = 1;
  by_path_.emplace("", kRootIno);
}

InodeRef InodeTable::Acquire(const std::string& path, bool is_dir) {
  std::lock_guard lock(mu_);
  auto it = by_path_.find(path);
  if (it != by_path_.end()) {
    InodeInfo& info = slots_[it->second].info;
    if (info.is_dir == is_dir || it->second == kRootIno) {
      ++info.nlookup;
      return {it->second, info.generation};
    }
    DetachLocked(path);  // a file became a directory or the reverse
  }
  uint64_t ino;
  if (!free_.empty()) {
    ino = free_.back();
    free_.pop_back();
  } else {
    ino = slots_.size();
    slots_.emplace_back();
  }
  Slot& slot = slots_[ino];
  uint64_t generation = slot.info.generation + 1;
  slot.used = true;
  slot.info = InodeInfo{path, is_dir, false, generation, 1, 0};
  by_path_.emplace(path, ino);
  return {ino, generation};
}

void InodeTable::Forget(uint64_t ino, uint64_t n) {
  std::lock_guard lock(mu_);
  if (ino == kRootIno || ino >= slots_.size() || !slots_[ino].used) return;
  InodeInfo& info = slots_[ino].info;
  info.nlookup = n >= info.nlookup ? 0 : info.nlookup - n;
  if (info.nlookup > 0) return;
  if (!info.detached) by_path_.erase(info.path);
  slots_[ino].used = false;
  info.path.clear();
  info.cached_version = 0;
  free_.push_back(ino);
}

std::optional<InodeInfo> InodeTable::Get(uint64_t ino) const {
  std::lock_guard lock(mu_);
  if (ino >= slots_.size() || !slots_[ino].used) return std::nullopt;
  return slots_[ino].info;
}

std::optional<uint64_t> InodeTable::Find(std::string_view path) const {
  std::lock_guard lock(mu_);
  auto it = by_path_.find(std::string(path));
  if (it == by_path_.end()) return std::nullopt;
  return it->second;
}

void InodeTable::Detach(std::string_view path) {
  std::lock_guard lock(mu_);
  DetachLocked(path);
}

void InodeTable::DetachLocked(std::string_view path) {
  auto it = by_path_.find(std::string(path));
  if (it == by_path_.end() || it->second == kRootIno) return;
  slots_[it->second].info.detached = true;
  by_path_.erase(it);
}

void InodeTable::Move(std::string_view from, const std::string& to) {
  std::lock_guard lock(mu_);
  DetachLocked(to);
  auto it = by_path_.find(std::string(from));
  if (it == by_path_.end() || it->second == kRootIno) return;
  uint64_t ino = it->second;
  by_path_.erase(it);
  slots_[ino].info.path = to;
  by_path_.emplace(to, ino);
}

namespace {
bool InTree(const std::string& path, const std::string& dir) {
  return path.size() >= dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         (path.size() == dir.size() || path[dir.size()] == '/');
}
}  // namespace

void InodeTable::MovePrefix(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  std::vector<std::string> gone;
  std::vector<std::pair<std::string, uint64_t>> moved;
  for (const auto& [path, ino] : by_path_) {
    if (ino == kRootIno) continue;
    if (InTree(path, to)) gone.push_back(path);
    if (InTree(path, from)) moved.emplace_back(path, ino);
  }
  for (const std::string& path : gone) DetachLocked(path);
  for (const auto& [path, ino] : moved) by_path_.erase(path);
  for (auto& [path, ino] : moved) {
    std::string now = to + path.substr(from.size());
    slots_[ino].info.path = now;
    by_path_[now] = ino;
  }
}

void InodeTable::SetCachedVersion(uint64_t ino, uint64_t version) {
  std::lock_guard lock(mu_);
  if (ino < slots_.size() && slots_[ino].used) slots_[ino].info.cached_version = version;
}

size_t InodeTable::size() const {
  std::lock_guard lock(mu_);
  return slots_.size() - 1 - free_.size();
}

}  // namespace shovel::fs
