// Vfs: files unlinked while this mount has them open.
//
// unlink(2) of an open file renames its id to
// "<kOpenUnlinkedDir>/<mount tag>-<ino>" (hidden: the root never lists or
// finds that name), so the name is gone for every mount while the open
// descriptors keep reading and writing the bytes; the last Release deletes
// the id without committing anything. A pending streamed set is committed
// first, so the rename has an id to move. If the mount dies first, the id
// stays under /.shovelfs.open/ until removed with shovelctl.
#include "shovel/fs/errors.h"
#include "shovel/fs/paths.h"
#include "shovel/fs/vfs.h"

namespace shovel::fs {

std::vector<std::shared_ptr<FileHandle>> Vfs::HandlesOf(uint64_t ino) const {
  std::vector<std::shared_ptr<FileHandle>> out;
  std::lock_guard lock(handles_mu_);
  for (const auto& [fh, of] : handles_) {
    if (of.ino == ino) out.push_back(of.handle);
  }
  return out;
}

Status Vfs::UnlinkOpen(const std::string& id, uint64_t ino,
                       const std::vector<std::shared_ptr<FileHandle>>& open) {
  for (const auto& h : open) SHOVEL_RETURN_IF_ERROR(h->CommitStream());
  std::string hidden =
      std::string(kOpenUnlinkedDir) + "/" + mount_tag_ + "-" + std::to_string(ino);
  Status s = client_->Rename(id, hidden);
  if (s.IsNotFound()) {
    // Created here and not committed yet (or gone elsewhere): it has no
    // bytes to keep, but its descriptors still write to the hidden id.
    s = client_->Set(hidden, "").status();
  }
  SHOVEL_RETURN_IF_ERROR(s);
  inodes_.Move(id, hidden);
  for (const auto& h : open) h->SetId(hidden);
  std::lock_guard lock(handles_mu_);
  unlinked_[ino] = std::move(hidden);
  return Status::Ok();
}

}  // namespace shovel::fs
