// FileHandle: punching a hole (fallocate PUNCH_HOLE) in patch mode, and
// following another handle's commit (Rebase). The
// range leaves the extents and, below keep_, joins punched_: reads show
// zeros there (under later writes), and the commit (RebuildLocked) skips
// those stored bytes and records the range as a hole (holes.h; a range
// under kMinHole is stored as zeros). Nothing of the size of the range is
// held in memory.
#include <algorithm>
#include <vector>

#include "shovel/fs/file_handle.h"

namespace shovel::fs {

Status FileHandle::PunchHole(uint64_t off, uint64_t len) {
  std::lock_guard lock(mu_);
  if (mode_ == Mode::kStream && stream_open_) {
    // Punching below the stream's end: continue as a patch, as a write
    // before the end does.
    SHOVEL_RETURN_IF_ERROR(CommitStreamLocked());
  }
  const uint64_t end = std::min(size_, len > UINT64_MAX - off ? UINT64_MAX : off + len);
  if (off >= end) return Status::Ok();
  // Cut [off, end) out of the extents, keeping what lies on either side.
  std::vector<std::pair<uint64_t, std::string>> tails;
  auto it = extents_.lower_bound(off);
  if (it != extents_.begin()) --it;
  while (it != extents_.end() && it->first < end) {
    const uint64_t e_off = it->first;
    const uint64_t e_end = e_off + it->second.size();
    if (e_end <= off) {
      ++it;
      continue;
    }
    if (e_end > end) tails.emplace_back(end, it->second.substr(end - e_off));
    dirty_bytes_ -= it->second.size();
    if (e_off < off) {
      it->second.resize(off - e_off);
      dirty_bytes_ += it->second.size();
      ++it;
    } else {
      it = extents_.erase(it);
    }
  }
  for (auto& [t_off, data] : tails) {
    dirty_bytes_ += data.size();
    extents_.emplace(t_off, std::move(data));
  }
  if (off < keep_) punched_.Add(off, std::min(end, keep_) - off);
  dirty_ = true;
  whole_stream_ = false;
  fetches_.clear();
  return Status::Ok();
}

BaseState FileHandle::Base() const {
  std::lock_guard lock(mu_);
  return base_;
}

void FileHandle::Rebase(const BaseState& base) {
  std::vector<Fetch> dead;  // destroyed unlocked (a fetch may be in flight)
  std::lock_guard lock(mu_);
  if (HasPendingDataLocked() || !append_held_.empty() || base.version == base_.version) {
    return;
  }
  base_ = base;
  holes_ = Holes::FromAttrs(base.attrs);
  keep_ = size_ = base.size;
  extents_.clear();
  punched_ = Holes();
  dirty_bytes_ = 0;
  whole_stream_ = false;
  DropBlocksLocked(&dead);
}

}  // namespace shovel::fs
