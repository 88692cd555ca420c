// Vfs: names, attributes, directories (vfs_io.cc: files; vfs_meta.cc:
// readdir, statfs, xattrs).
#include "shovel/fs/vfs.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <utility>

#include "shovel/fs/errors.h"
#include "shovel/fs/paths.h"

namespace shovel::fs {

namespace {

std::string RandomTag() {
  std::random_device rd;
  uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// No stores: the bytes around a read would go unused, so none are fetched.
VfsOptions WithStores(VfsOptions o) {
  if (o.max_stores == 0) o.limits.read_around = 0;
  return o;
}

}  // namespace

Vfs::Vfs(Client* client, VfsOptions options)
    : client_(client),
      options_(WithStores(std::move(options))),
      mount_tag_(RandomTag()) {}

Vfs::~Vfs() = default;

void Vfs::Warn(std::string_view message) const {
  if (options_.log) options_.log(message);
}

Result<InodeInfo> Vfs::Node(uint64_t ino) const {
  std::optional<InodeInfo> info = inodes_.Get(ino);
  if (!info) return MakeFsError(FsError::kBadHandle, "inode " + std::to_string(ino));
  return *std::move(info);
}

Result<InodeInfo> Vfs::DirNode(uint64_t ino) const {
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo info, Node(ino));
  if (!info.is_dir) return MakeFsError(FsError::kNotDirectory, "'" + info.path + "'");
  return info;
}

Result<Attr> Vfs::DirAttr(const std::string& path) {
  Attr attr;
  Result<BlobStat> marker = client_->Stat(MarkerId(path));
  if (marker.ok()) {
    attr = AttrFromStat(*marker, true, options_.owner);
  } else {
    if (!marker.status().IsNotFound()) return marker.status();
    if (!path.empty()) {
      SHOVEL_ASSIGN_OR_RETURN(ListPage page,
                              client_->List(DirPrefix(path), "", 1, false));
      if (page.ids.empty()) {
        return Status::NotFound("directory '" + path + "' does not exist");
      }
    }
    attr = DefaultAttr(true, options_.owner, NowNs());
  }
  SHOVEL_ASSIGN_OR_RETURN(uint64_t subdirs, CountSubdirs(path));
  attr.nlink = static_cast<uint32_t>(std::min<uint64_t>(2 + subdirs, UINT32_MAX));
  return attr;
}

Result<uint64_t> Vfs::CountSubdirs(const std::string& path) {
  constexpr uint32_t kPage = 1000;
  const std::string prefix = DirPrefix(path);
  uint64_t count = 0;
  std::string cursor;
  do {
    SHOVEL_ASSIGN_OR_RETURN(ListPage page, client_->List(prefix, cursor, kPage, true));
    for (std::string& name : page.ids) {
      if (name.size() < 2 || name.back() != '/') continue;
      name.pop_back();
      if (!IsReservedName(path, name)) ++count;
    }
    cursor = std::move(page.next_cursor);
  } while (!cursor.empty());
  return count;
}

Result<Attr> Vfs::RecentDirAttr(const std::string& path) {
  constexpr size_t kMaxDirHints = 1024;
  const uint64_t epoch = dir_epoch_.load();
  const int64_t now = NowNs();
  {
    std::lock_guard lock(hints_mu_);
    auto it = dir_attrs_.find(path);
    if (it != dir_attrs_.end() && it->second.epoch == epoch &&
        now - it->second.taken_ns < options_.hint_max_age_ns) {
      return it->second.attr;
    }
  }
  SHOVEL_ASSIGN_OR_RETURN(Attr attr, DirAttr(path));
  std::lock_guard lock(hints_mu_);
  if (dir_attrs_.size() >= kMaxDirHints) {
    std::erase_if(dir_attrs_, [&](const auto& kv) {
      return kv.second.epoch != epoch ||
             now - kv.second.taken_ns >= options_.hint_max_age_ns;
    });
  }
  if (dir_attrs_.size() < kMaxDirHints) dir_attrs_[path] = DirAttrHint{attr, now, epoch};
  return attr;
}

Status Vfs::EnsureMarker(const std::string& dir) {
  std::string marker = MarkerId(dir);
  SHOVEL_ASSIGN_OR_RETURN(bool exists, client_->Exists(marker));
  if (exists) return Status::Ok();
  return client_->Set(marker, "").status();
}

Result<Attr> Vfs::Lookup(uint64_t parent, std::string_view name) {
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo dir, DirNode(parent));
  if (IsReservedName(dir.path, name)) return Status::NotFound("no such file");
  SHOVEL_ASSIGN_OR_RETURN(std::string id, ChildId(dir.path, name));
  // A name this mount knows as a file is most likely still one: one STAT.
  // Otherwise STAT and a one-name LIST go together (file, directory or
  // missing in one round trip).
  std::optional<uint64_t> known = inodes_.Find(id);
  std::optional<InodeInfo> known_info = known ? inodes_.Get(*known) : std::nullopt;
  NameInfo ni;
  bool children_known = false;
  if (known_info && !known_info->is_dir) {
    Result<BlobStat> st = client_->WatchedStat(id);
    if (st.ok()) {
      ni.stat = *std::move(st);
    } else if (!st.status().IsNotFound()) {
      return st.status();
    }
  }
  if (!ni.stat) {
    SHOVEL_ASSIGN_OR_RETURN(ni, client_->StatName(id));
    children_known = true;
  }
  if (ni.stat) {
    std::string key = id;  // the id holding the bytes
    auto type = ni.stat->attrs.find(kAttrType);
    if (type != ni.stat->attrs.end() && type->second == kLinkType) {
      auto data = ni.stat->attrs.find(kAttrLinkData);
      if (data == ni.stat->attrs.end()) {
        return Status::Corruption("hard link '" + id + "' names no data id");
      }
      key = data->second;
      SHOVEL_ASSIGN_OR_RETURN(BlobStat target, client_->Stat(key));
      RememberLink(id, key);
      ni.stat = std::move(target);
    }
    InodeRef ref = inodes_.Acquire(key, false);
    Attr attr = AttrFromStat(*ni.stat, false, options_.owner);
    NoteSeen(ref.ino, *ni.stat);
    {
      std::lock_guard lock(hints_mu_);
      hints_[ref.ino] = StatHint{*std::move(ni.stat), NowNs()};
    }
    if (auto h = PendingHandle(ref.ino)) {
      if (auto view = h->PendingView()) {
        attr.size = view->size;
        attr.hole_bytes = view->hole_bytes;
        ApplyStoredAttrs(view->attrs, &attr);
      }
    }
    attr.ino = ref.ino;
    attr.generation = ref.generation;
    return attr;
  }
  // A file this mount created and has not committed yet.
  if (std::optional<uint64_t> ino = inodes_.Find(id)) {
    if (PendingHandle(*ino) != nullptr) {
      InodeRef ref = inodes_.Acquire(id, false);
      SHOVEL_ASSIGN_OR_RETURN(Attr attr, GetAttr(ref.ino));
      return attr;
    }
  }
  Attr attr;
  if (!children_known) {
    SHOVEL_ASSIGN_OR_RETURN(attr, DirAttr(id));
  } else if (!ni.has_children) {
    return Status::NotFound("'" + id + "' does not exist");
  } else {  // a directory: its marker, if any, holds the attributes
    Result<BlobStat> marker = client_->Stat(MarkerId(id));
    if (!marker.ok() && !marker.status().IsNotFound()) return marker.status();
    attr = marker.ok() ? AttrFromStat(*marker, true, options_.owner)
                       : DefaultAttr(true, options_.owner, NowNs());
    SHOVEL_ASSIGN_OR_RETURN(uint64_t subdirs, CountSubdirs(id));
    attr.nlink = static_cast<uint32_t>(std::min<uint64_t>(2 + subdirs, UINT32_MAX));
  }
  MergeDirTimes(id, &attr);
  InodeRef ref = inodes_.Acquire(id, true);
  attr.ino = ref.ino;
  attr.generation = ref.generation;
  return attr;
}

void Vfs::Forget(uint64_t ino, uint64_t nlookup) {
  inodes_.Forget(ino, nlookup);
  if (!inodes_.Get(ino)) {
    std::lock_guard lock(hints_mu_);
    hints_.erase(ino);
    attr_hints_.erase(ino);
    seen_.erase(ino);
  }
}

Result<Attr> Vfs::GetAttr(uint64_t ino) {
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo info, Node(ino));
  Attr attr;
  if (info.is_dir) {
    SHOVEL_ASSIGN_OR_RETURN(attr, RecentDirAttr(info.path));
    MergeDirTimes(info.path, &attr);
  } else if (auto h = PendingHandle(ino); h && h->PendingView()) {
    auto view = h->PendingView();
    attr = DefaultAttr(false, options_.owner, NowNs());
    attr.size = view->size;
    attr.hole_bytes = view->hole_bytes;
    ApplyStoredAttrs(view->attrs, &attr);
  } else if (std::optional<BlobStat> opened = OpenedStat(ino, info.path)) {
    attr = AttrFromStat(*opened, false, options_.owner);
  } else {
    SHOVEL_ASSIGN_OR_RETURN(BlobStat st, client_->WatchedStat(info.path));
    attr = AttrFromStat(st, false, options_.owner);
    NoteSeen(ino, st);
  }
  {
    std::lock_guard lock(handles_mu_);
    if (unlinked_.count(ino) != 0) attr.nlink = 0;
  }
  attr.ino = ino;
  attr.generation = info.generation;
  return attr;
}

Result<Attr> Vfs::SetAttr(uint64_t ino, std::optional<uint64_t> fh,
                          const AttrChange& change) {
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo info, Node(ino));
  if (change.size) {
    if (info.is_dir) return MakeFsError(FsError::kIsDirectory, "'" + info.path + "'");
    SHOVEL_RETURN_IF_ERROR(CheckFileSize(*change.size));
    SHOVEL_RETURN_IF_ERROR(Truncate(info, ino, fh, *change.size));
  }
  AttrChange timed = change;
  timed.now_ns = NowNs();  // any stored change is an inode change: ctime
  StoredChange stored = StoredKeys(timed, info.is_dir, options_.owner);
  if (!stored.set.empty() || !stored.drop.empty()) {
    SHOVEL_RETURN_IF_ERROR(ChangeStored(info, ino, fh, stored));
  }
  return GetAttr(ino);
}

Status Vfs::ChangeStored(const InodeInfo& info, uint64_t ino, std::optional<uint64_t> fh,
                         const StoredChange& change) {
  if (info.is_dir) {
    Changing changing(dir_epoch_);
    SHOVEL_RETURN_IF_ERROR(EnsureMarker(info.path));
    return client_->SetAttrs(MarkerId(info.path), change.set, change.drop);
  }
  Changing changing(file_epoch_);
  std::shared_ptr<FileHandle> h = fh ? Handle(*fh) : nullptr;
  if (h == nullptr) h = PendingHandle(ino);
  if (h != nullptr) return h->ChangeAttrs(change);
  return client_->SetAttrs(info.path, change.set, change.drop);
}

Result<Attr> Vfs::MkDir(uint64_t parent, std::string_view name, uint32_t perm,
                        Owner who) {
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo dir, DirNode(parent));
  SHOVEL_ASSIGN_OR_RETURN(std::string id, ChildId(dir.path, name));
  SHOVEL_ASSIGN_OR_RETURN(bool file_exists, client_->Exists(id));
  Result<Attr> existing = DirAttr(id);
  if (file_exists || existing.ok()) {
    return MakeFsError(FsError::kExists, "'" + id + "'");
  }
  if (!existing.status().IsNotFound()) return existing.status();
  std::string marker = MarkerId(id);
  AttrChange change;
  change.perm = perm;
  change.uid = who.uid;
  change.gid = who.gid;
  SHOVEL_RETURN_IF_ERROR(InheritFromDir(dir.path, true, &change));
  Changing changing(dir_epoch_);
  SHOVEL_RETURN_IF_ERROR(client_->Set(marker, "").status());
  StoredChange stored = StoredKeys(change, true, options_.owner);
  if (!stored.set.empty()) {
    SHOVEL_RETURN_IF_ERROR(client_->SetAttrs(marker, stored.set));
  }
  TouchDir(dir.path);
  Attr attr = DefaultAttr(true, options_.owner, NowNs());
  ApplyStoredAttrs(stored.set, &attr);
  InodeRef ref = inodes_.Acquire(id, true);
  attr.ino = ref.ino;
  attr.generation = ref.generation;
  return attr;
}

Status Vfs::RmDir(uint64_t parent, std::string_view name) {
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo dir, DirNode(parent));
  SHOVEL_ASSIGN_OR_RETURN(std::string id, ChildId(dir.path, name));
  SHOVEL_ASSIGN_OR_RETURN(ListPage page, client_->List(DirPrefix(id), "", 2, true));
  for (const std::string& entry : page.ids) {
    if (entry != kDirMarker) {
      return MakeFsError(FsError::kNotEmpty, "'" + id + "' holds '" + entry + "'");
    }
  }
  Changing changing(dir_epoch_);
  Status s = client_->Delete(MarkerId(id));
  if (s.IsNotFound()) {
    SHOVEL_ASSIGN_OR_RETURN(bool is_file, client_->Exists(id));
    if (is_file) return MakeFsError(FsError::kNotDirectory, "'" + id + "'");
    return Status::NotFound("directory '" + id + "' does not exist");
  }
  SHOVEL_RETURN_IF_ERROR(s);
  inodes_.Detach(id);
  TouchDir(dir.path);
  return Status::Ok();
}

Status Vfs::Unlink(uint64_t parent, std::string_view name) {
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo dir, DirNode(parent));
  SHOVEL_ASSIGN_OR_RETURN(std::string id, ChildId(dir.path, name));
  Changing changing(
      dir_epoch_);  // the last id under a directory without a marker ends it
  if (std::optional<std::string> data = LinkedName(id)) {
    SHOVEL_RETURN_IF_ERROR(client_->Delete(id));
    ForgetLink(id);
    TouchDir(dir.path);
    return DropLink(*data);
  }
  std::optional<uint64_t> ino = inodes_.Find(id);
  if (ino) {
    std::vector<std::shared_ptr<FileHandle>> open = HandlesOf(*ino);
    if (!open.empty()) {
      SHOVEL_RETURN_IF_ERROR(UnlinkOpen(id, *ino, open));
      TouchDir(dir.path);
      return Status::Ok();
    }
  }
  SHOVEL_RETURN_IF_ERROR(client_->Delete(id));
  inodes_.Detach(id);
  TouchDir(dir.path);
  return Status::Ok();
}

}  // namespace shovel::fs
