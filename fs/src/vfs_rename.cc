// Vfs: rename(2) of files and directories.
//
// A file is one id: the cache's Rename moves it (across workers; its bytes
// never pass through the mount). A directory is its marker plus every id
// under "<dir>/": RenameDir moves them one by one with the same Rename,
// marker first, then the other ids in List order (sorted). It is not atomic
// for a reader on any mount: while it runs, both names are directories and
// each entry shows under exactly one of them (the old name until its own
// Rename, the new one after); the new name has the directory's mode and
// owner from the first step, the old one shows default attributes until its
// last entry leaves. A failed step puts back the ids already moved (best
// effort) and returns the error. Replacing an empty target directory deletes
// its marker first.
#include <algorithm>
#include <utility>

#include "shovel/fs/errors.h"
#include "shovel/fs/paths.h"
#include "shovel/fs/vfs.h"

namespace shovel::fs {
namespace {

// True when `path` is `dir` or lies under it.
bool InTree(const std::string& path, const std::string& dir) {
  return path.size() >= dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         (path.size() == dir.size() || path[dir.size()] == '/');
}

// The longest id a moved entry may get: a marker may be longer than a path
// (paths.h: kMaxPathBytes).
size_t MaxMovedId(const std::string& id) {
  return BaseName(id) == kDirMarker ? kMaxPathBytes + 1 + kDirMarker.size()
                                    : kMaxPathBytes;
}

}  // namespace

Result<Vfs::NameKind> Vfs::KindOf(const std::string& id) {
  if (LinkedName(id)) return NameKind::kFile;
  if (std::optional<uint64_t> ino = inodes_.Find(id)) {
    if (PendingHandle(*ino) != nullptr) return NameKind::kFile;  // not committed yet
  }
  SHOVEL_ASSIGN_OR_RETURN(NameInfo ni, client_->StatName(id));
  if (ni.stat) return NameKind::kFile;
  return ni.has_children ? NameKind::kDirectory : NameKind::kMissing;
}

Status Vfs::Rename(uint64_t parent, std::string_view name, uint64_t new_parent,
                   std::string_view new_name, bool no_replace) {
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo from_dir, DirNode(parent));
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo to_dir, DirNode(new_parent));
  SHOVEL_ASSIGN_OR_RETURN(std::string from, ChildId(from_dir.path, name));
  SHOVEL_ASSIGN_OR_RETURN(std::string to, ChildId(to_dir.path, new_name));
  SHOVEL_ASSIGN_OR_RETURN(NameKind from_kind, KindOf(from));
  if (from_kind == NameKind::kMissing) {
    return Status::NotFound("'" + from + "' does not exist");
  }
  if (from == to) return Status::Ok();  // POSIX: nothing to do
  SHOVEL_ASSIGN_OR_RETURN(NameKind to_kind, KindOf(to));
  if (no_replace && to_kind != NameKind::kMissing) {
    return MakeFsError(FsError::kExists, "'" + to + "'");
  }
  Changing changing(dir_epoch_);
  if (from_kind == NameKind::kDirectory) {
    SHOVEL_RETURN_IF_ERROR(RenameDir(from, to, to_kind));
  } else if (to_kind == NameKind::kDirectory) {
    return MakeFsError(FsError::kIsDirectory,
                       "'" + to + "' is a directory; '" + from + "' is not");
  } else {
    SHOVEL_ASSIGN_OR_RETURN(bool changed, RenameFile(from, to));
    if (!changed) return Status::Ok();
  }
  TouchDir(from_dir.path);
  if (to_dir.path != from_dir.path) TouchDir(to_dir.path);
  return Status::Ok();
}

Result<bool> Vfs::RenameFile(const std::string& from, const std::string& to) {
  std::optional<uint64_t> ino = inodes_.Find(from);
  // A stream still being written commits first, so the rename moves its
  // bytes and later writes follow the new name.
  if (ino) {
    for (const auto& h : HandlesOf(*ino)) SHOVEL_RETURN_IF_ERROR(h->CommitStream());
  }
  // A replaced file this mount has open stays readable through its
  // descriptors, as an unlinked one does.
  if (std::optional<uint64_t> target = inodes_.Find(to); target && target != ino) {
    std::vector<std::shared_ptr<FileHandle>> open = HandlesOf(*target);
    if (!open.empty()) SHOVEL_RETURN_IF_ERROR(UnlinkOpen(to, *target, open));
  }
  // Two names of one hard-linked file: POSIX says rename does nothing.
  std::optional<std::string> replaced = LinkedName(to);
  std::optional<std::string> moved = LinkedName(from);
  if (replaced && replaced == moved) return false;
  SHOVEL_RETURN_IF_ERROR(client_->Rename(from, to));
  inodes_.Move(from, to);
  ForgetLink(to);
  if (moved) {
    ForgetLink(from);
    RememberLink(to, *moved);
  }
  if (replaced) SHOVEL_RETURN_IF_ERROR(DropLink(*replaced));
  if (ino) {
    for (auto& h : HandlesOf(*ino)) h->SetId(to);
  }
  return true;
}

Status Vfs::RenameDir(const std::string& from, const std::string& to, NameKind to_kind) {
  if (InTree(to, from)) {
    return Status::InvalidArgument("cannot move directory '" + from +
                                   "' into itself, as '" + to + "'");
  }
  if (to_kind == NameKind::kFile) {
    return MakeFsError(FsError::kNotDirectory,
                       "'" + to + "' is a file; '" + from + "' is a directory");
  }
  if (to_kind == NameKind::kDirectory) {
    SHOVEL_ASSIGN_OR_RETURN(ListPage page, client_->List(DirPrefix(to), "", 2, true));
    for (const std::string& entry : page.ids) {
      if (entry != kDirMarker) {
        return MakeFsError(FsError::kNotEmpty, "'" + to + "' holds '" + entry + "'");
      }
    }
  }
  // Open files under `from` commit what they stream (so their ids exist to
  // be moved) and follow the move.
  std::vector<std::pair<std::shared_ptr<FileHandle>, std::string>> open;
  {
    std::lock_guard lock(handles_mu_);
    for (const auto& [fh, of] : handles_) {
      std::optional<InodeInfo> info = inodes_.Get(of.ino);
      if (info && !info->is_dir && !info->detached && InTree(info->path, from)) {
        open.emplace_back(of.handle, to + info->path.substr(from.size()));
      }
    }
  }
  for (const auto& [h, id] : open) SHOVEL_RETURN_IF_ERROR(h->CommitStream());
  std::vector<std::string> ids;
  std::string cursor;
  do {
    SHOVEL_ASSIGN_OR_RETURN(ListPage page, client_->List(DirPrefix(from), cursor));
    for (std::string& id : page.ids) {
      if (id.size() - from.size() + to.size() > MaxMovedId(id)) {
        return MakeFsError(FsError::kNameTooLong, "'" + id.substr(0, 40) +
                                                      "...' would be longer than " +
                                                      std::to_string(kMaxPathBytes) +
                                                      " bytes under '" + to + "'");
      }
      ids.push_back(std::move(id));
    }
    cursor = std::move(page.next_cursor);
  } while (!cursor.empty());
  // The marker first: the new name has the directory's attributes as soon
  // as it shows.
  const std::string marker = MarkerId(from);
  std::stable_partition(ids.begin(), ids.end(),
                        [&](const std::string& id) { return id == marker; });
  if (to_kind == NameKind::kDirectory) {
    Status s = client_->Delete(MarkerId(to));
    if (!s.ok() && !s.IsNotFound()) return s;
  }
  auto moved_id = [&](const std::string& id) { return to + id.substr(from.size()); };
  for (size_t i = 0; i < ids.size(); ++i) {
    Status s = client_->Rename(ids[i], moved_id(ids[i]));
    if (s.ok() || s.IsNotFound()) continue;  // NotFound: removed meanwhile
    for (size_t j = i; j-- > 0;) client_->Rename(moved_id(ids[j]), ids[j]).ok();
    return s;
  }
  inodes_.MovePrefix(from, to);
  {
    std::lock_guard lock(links_mu_);
    std::vector<std::pair<std::string, std::string>> names;
    for (auto it = links_.begin(); it != links_.end();) {
      if (InTree(it->first, from)) {
        names.emplace_back(moved_id(it->first), std::move(it->second));
        it = links_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [name, data] : names) links_[name] = std::move(data);
  }
  for (const auto& [h, id] : open) h->SetId(id);
  return Status::Ok();
}

}  // namespace shovel::fs
