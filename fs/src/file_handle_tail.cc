// FileHandle: committing a patch that only grows the file (truncate up, a
// write at or past the end) as an append of the new tail, so extending a
// file never reads or rewrites its stored bytes. Zeros of the tail are
// holes (holes.h): a truncate up is an attribute change, O(1) in time and
// memory whatever the size; only written bytes (and gaps shorter than
// kMinHole) are appended.
#include <algorithm>

#include "shovel/fs/file_handle.h"

namespace shovel::fs {

bool FileHandle::GrowsOnlyLocked() const {
  return base_.exists && keep_ == base_.size && punched_.empty() && size_ > base_.size &&
         (extents_.empty() || extents_.begin()->first >= base_.size);
}

Status FileHandle::AppendTailLocked() {
  static const std::string kZeros(kMinHole, '\0');
  // The tail as holes and stored pieces: first the holes, so a reader in
  // between sees the file grown with zeros (the appended bytes read as
  // zeros until they land).
  Holes next = holes_;
  uint64_t stored = 0;  // bytes to append
  uint64_t pos = base_.size;
  auto gap_until = [&](uint64_t end) {
    if (end - pos >= kMinHole) {
      next.Add(pos, end - pos);
    } else {
      stored += end - pos;
    }
    pos = end;
  };
  for (const auto& [off, data] : extents_) {
    gap_until(off);
    stored += data.size();
    pos = off + data.size();
  }
  gap_until(size_);
  if (!(next == holes_)) {
    SHOVEL_RETURN_IF_ERROR(client_->SetAttrs(id_, {{kAttrHoles, next.Format()}}, {}));
  }
  uint64_t version = 0;
  if (stored == 0) {
    // Nothing to store: an empty append moves the version on.
    SHOVEL_ASSIGN_OR_RETURN(version, client_->Append(id_, ""));
  } else {
    // The size hint lets the worker refuse at once a tail it could never hold.
    SHOVEL_ASSIGN_OR_RETURN(std::unique_ptr<Writer> w,
                            client_->OpenWriter(id_, WriteMode::kAppend, stored));
    pos = base_.size;
    auto zeros_until = [&](uint64_t end) -> Status {
      if (end - pos < kMinHole) {
        SHOVEL_RETURN_IF_ERROR(w->Write(std::string_view(kZeros).substr(0, end - pos)));
      }
      pos = end;
      return Status::Ok();
    };
    for (const auto& [off, data] : extents_) {
      SHOVEL_RETURN_IF_ERROR(zeros_until(off));
      SHOVEL_RETURN_IF_ERROR(w->Write(data));
      pos = off + data.size();
    }
    SHOVEL_RETURN_IF_ERROR(zeros_until(size_));
    SHOVEL_ASSIGN_OR_RETURN(version, w->Commit());
  }
  AfterCommitLocked(version, size_, next);
  return Status::Ok();
}

}  // namespace shovel::fs
