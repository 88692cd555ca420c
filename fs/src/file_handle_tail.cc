// FileHandle: committing a patch that only grows the file (truncate up, a
// write at or past the end) as an append of the new tail, so extending a
// file never reads or rewrites its stored bytes. The tail's zeros are still
// sent and stored (the cache has no holes; the worker compresses them).
#include <algorithm>

#include "shovel/fs/file_handle.h"

namespace shovel::fs {
namespace {
constexpr uint64_t kTailZeroBlock = 1ull << 20;
}  // namespace

bool FileHandle::GrowsOnlyLocked() const {
  return base_.exists && keep_ == base_.size && size_ > base_.size &&
         (extents_.empty() || extents_.begin()->first >= base_.size);
}

Status FileHandle::AppendTailLocked() {
  const uint64_t tail = size_ - base_.size;
  // The size hint lets the worker refuse at once a tail it could never hold.
  SHOVEL_ASSIGN_OR_RETURN(std::unique_ptr<Writer> w,
                          client_->OpenWriter(id_, WriteMode::kAppend, tail));
  static const std::string kZeros(kTailZeroBlock, '\0');
  uint64_t pos = base_.size;
  auto zeros_until = [&](uint64_t end) -> Status {
    while (pos < end) {
      uint64_t step = std::min<uint64_t>(end - pos, kTailZeroBlock);
      SHOVEL_RETURN_IF_ERROR(w->Write(std::string_view(kZeros).substr(0, step)));
      pos += step;
    }
    return Status::Ok();
  };
  for (const auto& [off, data] : extents_) {
    SHOVEL_RETURN_IF_ERROR(zeros_until(off));
    SHOVEL_RETURN_IF_ERROR(w->Write(data));
    pos = off + data.size();
  }
  SHOVEL_RETURN_IF_ERROR(zeros_until(size_));
  SHOVEL_ASSIGN_OR_RETURN(uint64_t version, w->Commit());
  AfterCommitLocked(version, size_);
  return Status::Ok();
}

}  // namespace shovel::fs
