// Vfs: hard links.
//
// The first link(2) of a file moves its bytes (and attributes) to a data
// id, "<kLinkDataDir>/<mount tag>-<n>", hidden like the markers, with an
// "nlink" attribute counting its names. Every name becomes an empty id with
// attributes "type" = "link" and "data" = the data id. Lookup of a name
// resolves it, and the inode stands for the data id: reads, writes, chmod
// and xattrs (user.shovel.node_ids included) act on the data id, so a
// write through one name is seen through every other. unlink and rename
// over a name take one from "nlink"; the last one frees the bytes. The
// steps are separate cache calls, not one atomic change: another mount may
// see the first name missing while link(2) runs, and two mounts changing
// the names of one file at once can miscount "nlink".
#include "shovel/fs/errors.h"
#include "shovel/fs/paths.h"
#include "shovel/fs/vfs.h"

namespace shovel::fs {

std::optional<std::string> Vfs::LinkedName(const std::string& id) const {
  std::lock_guard lock(links_mu_);
  auto it = links_.find(id);
  if (it == links_.end()) return std::nullopt;
  return it->second;
}

void Vfs::RememberLink(const std::string& id, const std::string& data) {
  std::lock_guard lock(links_mu_);
  links_[id] = data;
}

void Vfs::ForgetLink(const std::string& id) {
  std::lock_guard lock(links_mu_);
  links_.erase(id);
}

Status Vfs::MakeLinkName(const std::string& id, const std::string& data) {
  SHOVEL_RETURN_IF_ERROR(client_->Set(id, "").status());
  Status s = client_->SetAttrs(id, {{kAttrType, kLinkType}, {kAttrLinkData, data}});
  if (!s.ok()) client_->Delete(id).ok();  // no half-made name
  return s;
}

Result<uint32_t> Vfs::AddLinks(const std::string& data, int delta) {
  SHOVEL_ASSIGN_OR_RETURN(BlobStat st, client_->Stat(data));
  Attr attr = AttrFromStat(st, false, options_.owner);
  int64_t n = static_cast<int64_t>(attr.nlink) + delta;
  if (n < 0) n = 0;
  SHOVEL_RETURN_IF_ERROR(client_->SetAttrs(data, {{kAttrNlink, std::to_string(n)}}));
  return static_cast<uint32_t>(n);
}

Status Vfs::DropLink(const std::string& data) {
  SHOVEL_ASSIGN_OR_RETURN(uint32_t left, AddLinks(data, -1));
  if (left > 0) return Status::Ok();
  if (std::optional<uint64_t> ino = inodes_.Find(data)) {
    if (!HandlesOf(*ino).empty()) {  // the last close frees it (Release)
      std::lock_guard lock(handles_mu_);
      unlinked_[*ino] = data;
      return Status::Ok();
    }
  }
  Status s = client_->Delete(data);
  return s.IsNotFound() ? Status::Ok() : s;
}

Result<Attr> Vfs::Link(uint64_t ino, uint64_t new_parent, std::string_view new_name) {
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo info, Node(ino));
  if (info.is_dir) {
    return MakeFsError(FsError::kNotPermitted, "'" + info.path + "' is a directory");
  }
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo dir, DirNode(new_parent));
  SHOVEL_ASSIGN_OR_RETURN(std::string id, ChildId(dir.path, new_name));
  SHOVEL_RETURN_IF_ERROR(CheckFree(id));
  Changing changing(dir_epoch_);
  std::vector<std::shared_ptr<FileHandle>> open = HandlesOf(ino);
  for (const auto& h : open) SHOVEL_RETURN_IF_ERROR(h->CommitStream());
  std::string data = info.path;
  SHOVEL_ASSIGN_OR_RETURN(BlobStat st, client_->Stat(info.path));
  Attr attr = AttrFromStat(st, false, options_.owner);
  if (attr.type != FileType::kRegular) {
    return MakeFsError(FsError::kNotPermitted,
                       "hard links to symlinks and special files are not supported");
  }
  const bool first = data.rfind(std::string(kLinkDataDir) + "/", 0) != 0;
  if (first) {  // move the bytes to a data id; the old name points to it
    {
      std::lock_guard lock(links_mu_);
      data = std::string(kLinkDataDir) + "/" + mount_tag_ + "-" +
             std::to_string(next_link_++);
    }
    SHOVEL_RETURN_IF_ERROR(client_->Rename(info.path, data));
    SHOVEL_RETURN_IF_ERROR(client_->SetAttrs(data, {{kAttrNlink, "1"}}));
    Status s = MakeLinkName(info.path, data);
    if (!s.ok()) {
      client_->Rename(data, info.path).ok();  // put the file back
      return s;
    }
    RememberLink(info.path, data);
    inodes_.Move(info.path, data);
    for (const auto& h : open) h->SetId(data);
  }
  SHOVEL_RETURN_IF_ERROR(MakeLinkName(id, data));
  SHOVEL_RETURN_IF_ERROR(AddLinks(data, 1).status());
  RememberLink(id, data);
  TouchDir(dir.path);
  InodeRef ref = inodes_.Acquire(data, false);
  return GetAttr(ref.ino);
}

}  // namespace shovel::fs
