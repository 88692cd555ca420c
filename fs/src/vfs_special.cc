// Vfs: symlinks, special files (FIFOs, sockets, device nodes) and the
// parent directory's times.
//
// A symlink or special file is an id like a regular file: a symlink's blob
// holds its target, a special file's blob is empty, and the "type" (and
// "rdev") attribute keys say what it is (attr.h), so every mount of the
// cluster sees it. Only the kernel uses a FIFO, socket or device node: FUSE
// never opens one.
#include <algorithm>
#include <utility>

#include "shovel/fs/errors.h"
#include "shovel/fs/paths.h"
#include "shovel/fs/vfs.h"

namespace shovel::fs {
namespace {

// PATH_MAX counts the terminating NUL.
constexpr size_t kMaxTargetBytes = 4095;

}  // namespace

Status Vfs::CheckFree(const std::string& id) {
  SHOVEL_ASSIGN_OR_RETURN(NameInfo ni, client_->StatName(id));
  bool pending = false;
  if (std::optional<uint64_t> ino = inodes_.Find(id)) {
    pending = PendingHandle(*ino) != nullptr;
  }
  if (ni.stat || ni.has_children || pending) {
    return MakeFsError(FsError::kExists, "'" + id + "'");
  }
  return Status::Ok();
}

Result<Attr> Vfs::MakeNode(uint64_t parent, std::string_view name,
                           std::string_view content, const AttrChange& change,
                           FileType type, uint64_t rdev) {
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo dir, DirNode(parent));
  SHOVEL_ASSIGN_OR_RETURN(std::string id, ChildId(dir.path, name));
  SHOVEL_RETURN_IF_ERROR(CheckFree(id));
  AttrChange inherited = change;
  SHOVEL_RETURN_IF_ERROR(InheritFromDir(dir.path, false, &inherited));
  StoredChange stored = StoredKeys(inherited, false, options_.owner);
  if (type != FileType::kRegular) stored.set[kAttrType] = FileTypeName(type);
  if (type == FileType::kCharDevice || type == FileType::kBlockDevice) {
    stored.set[kAttrRdev] = std::to_string(rdev);
  }
  Changing changing(dir_epoch_);
  SHOVEL_RETURN_IF_ERROR(client_->Set(id, content).status());
  if (!stored.set.empty()) {
    Status s = client_->SetAttrs(id, stored.set);
    if (!s.ok()) {
      client_->Delete(id).ok();  // nothing half-made stays
      return s;
    }
  }
  TouchDir(dir.path);
  Attr attr = DefaultAttr(false, options_.owner, NowNs());
  attr.size = content.size();
  ApplyStoredAttrs(stored.set, &attr);
  InodeRef ref = inodes_.Acquire(id, false);
  attr.ino = ref.ino;
  attr.generation = ref.generation;
  return attr;
}

Result<Attr> Vfs::Symlink(uint64_t parent, std::string_view name, std::string_view target,
                          Owner who) {
  if (target.empty()) {
    return Status::NotFound("a symlink's target cannot be empty");
  }
  if (target.size() > kMaxTargetBytes) {
    return MakeFsError(FsError::kNameTooLong, "a symlink's target is at most 4095 bytes");
  }
  AttrChange change;
  change.uid = who.uid;
  change.gid = who.gid;
  return MakeNode(parent, name, target, change, FileType::kSymlink, 0);
}

Result<std::string> Vfs::ReadLink(uint64_t ino) {
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo info, Node(ino));
  auto not_link = [&] {
    return Status::InvalidArgument("'" + info.path + "' is not a symlink");
  };
  if (info.is_dir) return not_link();
  SHOVEL_ASSIGN_OR_RETURN(BlobStat st, client_->Stat(info.path));
  auto type = st.attrs.find(kAttrType);
  if (type == st.attrs.end() || type->second != FileTypeName(FileType::kSymlink)) {
    return not_link();
  }
  return client_->Get(info.path, 0, kWholeBlob);
}

Result<Attr> Vfs::MkNod(uint64_t parent, std::string_view name, FileType type,
                        uint32_t perm, uint64_t rdev, Owner who) {
  if (type == FileType::kSymlink) {
    return Status::InvalidArgument("mknod cannot make a symlink; use symlink(2)");
  }
  AttrChange change;
  change.perm = perm;
  change.uid = who.uid;
  change.gid = who.gid;
  return MakeNode(parent, name, "", change, type, rdev);
}

Status Vfs::InheritFromDir(const std::string& dir, bool is_dir, AttrChange* change) {
  constexpr uint32_t kSetGid = 02000;
  std::optional<Attr> attr;
  {
    std::lock_guard lock(hints_mu_);
    auto it = dir_attrs_.find(dir);
    if (it != dir_attrs_.end() && it->second.epoch == dir_epoch_.load() &&
        NowNs() - it->second.taken_ns < options_.hint_max_age_ns) {
      attr = it->second.attr;
    }
  }
  if (!attr) {  // a directory's mode lives on its marker: none, no set-group-ID
    Result<BlobStat> marker = client_->Stat(MarkerId(dir));
    if (marker.status().IsNotFound()) return Status::Ok();
    if (!marker.ok()) return marker.status();
    attr = AttrFromStat(*marker, true, options_.owner);
  }
  if ((attr->perm & kSetGid) == 0) return Status::Ok();
  change->gid = attr->gid;
  if (is_dir && change->perm) change->perm = *change->perm | kSetGid;
  return Status::Ok();
}

void Vfs::TouchDir(const std::string& dir) {
  if (dir.empty()) return;  // the root has no marker: its times are "now"
  dir_times_.Touch(dir, NowNs());
}

void Vfs::MergeDirTimes(const std::string& dir, Attr* attr) const {
  if (std::optional<int64_t> ns = dir_times_.Pending(dir)) {
    attr->mtime_ns = std::max(attr->mtime_ns, *ns);
    attr->ctime_ns = std::max(attr->ctime_ns, *ns);
  }
}

void Vfs::StoreDirTimes(const std::string& dir, int64_t ns) {
  std::string now = std::to_string(ns);
  Status s = client_->SetAttrs(MarkerId(dir), {{kAttrMtime, now}, {kAttrCtime, now}});
  // A directory without a marker exists through its ids: its times are "now".
  if (!s.ok() && !s.IsNotFound()) {
    Warn("cannot update the times of directory '" + dir + "': " + s.ToString());
  }
}

}  // namespace shovel::fs
