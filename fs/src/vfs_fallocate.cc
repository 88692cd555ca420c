// Vfs: fallocate(2) of an open file (docs/shovelfs.md, "fallocate").
//
// A cache has no blocks to reserve, and a file's holes are free
// (holes.h), so:
//  - mode 0 grows the file to off + len when that is past its end: the
//    same O(1) size change as ftruncate(2) up (a hole), never a shrink,
//    refused with EFBIG at once for a size no worker could hold;
//  - FALLOC_FL_KEEP_SIZE changes nothing (after the same checks): there is
//    nothing to reserve, and a later write may still fail with ENOSPC;
//  - FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE makes the part of the range
//    inside the file read as zeros (FileHandle::PunchHole: O(1) memory
//    whatever its length), committed at once (Flush: other descriptors of
//    this mount follow the new version); the commit rewrites the stored
//    bytes around the range, as a write before the end does, and stores the
//    range as a hole;
//  - every other mode (COLLAPSE_RANGE, INSERT_RANGE, ZERO_RANGE,
//    UNSHARE_RANGE, PUNCH_HOLE without KEEP_SIZE) is EOPNOTSUPP.
// The kernel drops the punched range from the page cache itself
// (fuse_file_fallocate); the binding also invalidates it, and the inode's
// cached version is forgotten so no read-around of the old bytes is stored.
#include <linux/falloc.h>

#include <algorithm>
#include <limits>
#include <string>

#include "shovel/fs/errors.h"
#include "shovel/fs/vfs.h"

namespace shovel::fs {
namespace {

constexpr int kKnownModes = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;

}  // namespace

Status Vfs::Fallocate(uint64_t fh, int mode, int64_t off, int64_t len) {
  uint64_t ino = 0;
  std::shared_ptr<FileHandle> h;
  {
    std::lock_guard lock(handles_mu_);
    auto it = handles_.find(fh);
    if (it == handles_.end() || !it->second.writable) {
      return MakeFsError(FsError::kBadHandle,
                         "fallocate needs a descriptor open for writing");
    }
    ino = it->second.ino;
    h = it->second.handle;
  }
  if (off < 0 || len <= 0) {
    return Status::InvalidArgument("fallocate: offset " + std::to_string(off) +
                                   ", length " + std::to_string(len));
  }
  if (off > std::numeric_limits<int64_t>::max() - len) {
    return MakeFsError(FsError::kFileTooBig, "fallocate: offset + length overflows");
  }
  const bool punch = (mode & FALLOC_FL_PUNCH_HOLE) != 0;
  if ((mode & ~kKnownModes) != 0 || (punch && (mode & FALLOC_FL_KEEP_SIZE) == 0)) {
    return MakeFsError(FsError::kNotSupported,
                       "fallocate mode " + std::to_string(mode) +
                           " (only 0, KEEP_SIZE and PUNCH_HOLE|KEEP_SIZE)");
  }
  const uint64_t end = static_cast<uint64_t>(off) + static_cast<uint64_t>(len);
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo info, Node(ino));
  // An O_APPEND handle's writes go to the end: what it holds is committed
  // first, so the size below is the file's and nothing lands after a hole.
  if (h->is_append()) SHOVEL_RETURN_IF_ERROR(h->Flush());
  SHOVEL_ASSIGN_OR_RETURN(Attr attr, GetAttr(ino));
  if (!punch) {
    SHOVEL_RETURN_IF_ERROR(CheckFileSize(end));
    if ((mode & FALLOC_FL_KEEP_SIZE) != 0 || end <= attr.size) return Status::Ok();
    return Truncate(info, ino, fh, end);
  }
  const uint64_t zero_end = std::min(end, attr.size);
  if (static_cast<uint64_t>(off) >= zero_end) return Status::Ok();  // past the end
  Changing changing(file_epoch_);
  SetCachedVersion(ino, 0);
  const auto n = zero_end - static_cast<uint64_t>(off);
  if (!h->is_append()) {
    // Committed at once, as Linux shows a punch at once: every descriptor
    // of this mount, and every later open anywhere, reads the zeros.
    SHOVEL_RETURN_IF_ERROR(h->PunchHole(static_cast<uint64_t>(off), n));
    return Flush(fh);
  }
  // Through a handle of the committed file (the O_APPEND one would append).
  SHOVEL_ASSIGN_OR_RETURN(BlobStat st, client_->Stat(info.path));
  FileHandle temp(client_, info.path, FileHandle::Mode::kRead, BaseFrom(st),
                  options_.limits, &pool_, &tasks_);
  SHOVEL_RETURN_IF_ERROR(temp.PunchHole(static_cast<uint64_t>(off), n));
  SHOVEL_RETURN_IF_ERROR(temp.Flush());
  NoteSeen(ino, temp.committed_version(), temp.StoredHoles());
  const BaseState base = temp.Base();
  for (const auto& other : HandlesOf(ino)) other->Rebase(base);
  return Status::Ok();
}

}  // namespace shovel::fs
