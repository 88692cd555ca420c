// Vfs: open files and their handles.
#include <fcntl.h>

#include <algorithm>
#include <utility>

#include "shovel/fs/errors.h"
#include "shovel/fs/holes.h"
#include "shovel/fs/paths.h"
#include "shovel/fs/vfs.h"

namespace shovel::fs {
namespace {

// First bytes fetched by a read-only open without a fresh Stat and without a
// page cache to keep: a whole small file, or the start of a large one.
constexpr uint64_t kOpenFetch = 1ull << 20;

}  // namespace

BaseState BaseFrom(const BlobStat& st) {
  return BaseState{true, Holes::FromAttrs(st.attrs).LogicalSize(st.size), st.version,
                   st.attrs};
}

uint64_t Vfs::AddHandle(uint64_t ino, std::shared_ptr<FileHandle> handle, bool writable) {
  // Before the handle exists: a writable one waits for stores in flight.
  stores_.Opened(ino, writable);
  std::lock_guard lock(handles_mu_);
  uint64_t fh = next_fh_++;
  bool shared = false;
  for (auto& [other_fh, of] : handles_) {
    if (of.ino == ino) of.shared = shared = true;
  }
  handles_.emplace(fh, OpenFile{ino, std::move(handle), shared, writable});
  return fh;
}

void Vfs::SetCachedVersion(uint64_t ino, uint64_t version) {
  inodes_.SetCachedVersion(ino, version);
  stores_.SetVersion(ino, version);
}

std::shared_ptr<FileHandle> Vfs::Handle(uint64_t fh) const {
  std::lock_guard lock(handles_mu_);
  auto it = handles_.find(fh);
  return it == handles_.end() ? nullptr : it->second.handle;
}

std::shared_ptr<FileHandle> Vfs::PendingHandle(uint64_t ino) const {
  std::vector<std::shared_ptr<FileHandle>> candidates;
  {
    std::lock_guard lock(handles_mu_);
    for (const auto& [fh, of] : handles_) {
      if (of.ino == ino) candidates.push_back(of.handle);
    }
  }
  for (auto& h : candidates) {
    if (h->PendingView()) return h;
  }
  return nullptr;
}

std::optional<BlobStat> Vfs::TakeHint(std::unordered_map<uint64_t, StatHint>& from,
                                      uint64_t ino, const std::string& id,
                                      std::optional<uint64_t> epoch) {
  std::lock_guard lock(hints_mu_);
  auto it = from.find(ino);
  if (it == from.end()) return std::nullopt;
  StatHint hint = std::move(it->second);
  from.erase(it);
  if (NowNs() - hint.taken_ns < options_.hint_max_age_ns && hint.stat.id == id &&
      (!epoch || hint.epoch == *epoch)) {
    return std::move(hint.stat);
  }
  return std::nullopt;
}

Result<BlobStat> Vfs::StatForOpen(uint64_t ino, const std::string& id) {
  if (std::optional<BlobStat> hint = FreshHint(ino, id)) return *std::move(hint);
  Result<BlobStat> st = client_->WatchedStat(id);
  if (st.ok()) NoteSeen(ino, *st);
  return st;
}

void Vfs::NoteSeen(uint64_t ino, uint64_t version, std::string holes) {
  std::lock_guard lock(hints_mu_);
  seen_[ino] = Seen{version, std::move(holes)};
}

void Vfs::NoteSeen(uint64_t ino, const BlobStat& st) {
  auto it = st.attrs.find(kAttrHoles);
  NoteSeen(ino, st.version, it == st.attrs.end() ? std::string() : it->second);
}

std::optional<std::string> Vfs::SeenAt(uint64_t ino, uint64_t version) const {
  std::lock_guard lock(hints_mu_);
  auto it = seen_.find(ino);
  if (it == seen_.end() || it->second.version != version) return std::nullopt;
  return it->second.holes;
}

Result<Vfs::Created> Vfs::Create(uint64_t parent, std::string_view name, uint32_t perm,
                                 int flags, Owner who) {
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo dir, DirNode(parent));
  SHOVEL_ASSIGN_OR_RETURN(std::string id, ChildId(dir.path, name));
  bool append = (flags & O_APPEND) != 0;
  AttrChange change;
  change.perm = perm;
  change.uid = who.uid;
  change.gid = who.gid;
  SHOVEL_RETURN_IF_ERROR(InheritFromDir(dir.path, false, &change));
  StoredChange stored = StoredKeys(change, false, options_.owner);
  stored.drop.clear();  // a new id has nothing to drop
  HandleLimits limits = options_.limits;
  limits.read_around = 0;  // writable: see Open
  auto handle = std::make_shared<FileHandle>(
      client_, id, append ? FileHandle::Mode::kAppend : FileHandle::Mode::kStream,
      BaseState{}, limits, &pool_, &tasks_);
  if (append) {
    SHOVEL_RETURN_IF_ERROR(client_->Append(id, "").status());
  }
  if (!stored.set.empty()) SHOVEL_RETURN_IF_ERROR(handle->ChangeAttrs(stored));
  TouchDir(dir.path);
  InodeRef ref = inodes_.Acquire(id, false);
  SetCachedVersion(ref.ino, 0);
  Created out;
  out.attr = DefaultAttr(false, options_.owner, NowNs());
  ApplyStoredAttrs(stored.set, &out.attr);
  out.attr.ino = ref.ino;
  out.attr.generation = ref.generation;
  out.open.fh = AddHandle(ref.ino, std::move(handle), true);
  out.open.direct_io = append;
  return out;
}

Result<OpenReply> Vfs::Open(uint64_t ino, int flags) {
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo info, Node(ino));
  if (info.is_dir) return MakeFsError(FsError::kIsDirectory, "'" + info.path + "'");
  bool writable = (flags & O_ACCMODE) != O_RDONLY;
  if (!writable) return OpenForRead(ino, info);
  OpenReply reply;
  FileHandle::Mode mode = FileHandle::Mode::kRead;
  BaseState base;
  Result<BlobStat> st = StatForOpen(ino, info.path);
  if ((flags & O_TRUNC) != 0) {
    if (!st.ok() && !st.status().IsNotFound()) return st.status();
    if (st.ok()) base = BaseFrom(*st);
    mode = FileHandle::Mode::kStream;
    SetCachedVersion(ino, 0);
  } else {
    if (!st.ok()) return st.status();
    base = BaseFrom(*st);
    if ((flags & O_APPEND) != 0) {
      mode = FileHandle::Mode::kAppend;
      reply.direct_io = true;
      SetCachedVersion(ino, 0);
    } else {
      reply.keep_cache = info.cached_version != 0 && info.cached_version == st->version;
      SetCachedVersion(ino, st->version);
    }
  }
  reply.attrs_stale = !reply.keep_cache;
  // Its reads fetch only their range: while it is open nothing is stored
  // into the page cache (PageStoreGate), so bytes around them would go unused.
  HandleLimits limits = options_.limits;
  limits.read_around = 0;
  auto handle = std::make_shared<FileHandle>(client_, info.path, mode, std::move(base),
                                             limits, &pool_, &tasks_);
  reply.fh = AddHandle(ino, std::move(handle), true);
  return reply;
}

// The close-to-open check of a read-only open: the lookup's Stat when this
// open(2) made one, else a GET of the first bytes, whose reply carries the
// version (and whose bytes serve the first reads).
Result<OpenReply> Vfs::OpenForRead(uint64_t ino, const InodeInfo& info) {
  OpenReply reply;
  BaseState base;
  std::optional<VersionedBytes> first;
  const uint64_t epoch = file_epoch_.load();
  const int64_t now = NowNs();
  std::optional<BlobStat> st = FreshHint(ino, info.path);
  if (!st && info.cached_version != 0) {
    // The page cache may hold this version: only the check is needed, and
    // a STAT also answers the GETATTR that follows (reads past the end).
    // While the worker watches the id for this mount, the check needs no
    // round trip (Client::WatchedStat).
    SHOVEL_ASSIGN_OR_RETURN(BlobStat fresh, client_->WatchedStat(info.path));
    NoteSeen(ino, fresh);
    st = std::move(fresh);
  }
  if (st) {
    base = BaseFrom(*st);
    std::lock_guard lock(hints_mu_);
    attr_hints_[ino] = StatHint{*st, now, epoch};
  } else {
    SHOVEL_ASSIGN_OR_RETURN(first, client_->GetWithVersion(info.path, 0, kOpenFetch));
    base = BaseState{true, first->size, first->version, {}};
    // The GET gives no attributes: the holes come from the last Stat of
    // this version, else from a Stat now.
    std::optional<std::string> holes = SeenAt(ino, first->version);
    if (!holes) {
      SHOVEL_ASSIGN_OR_RETURN(BlobStat fresh, client_->Stat(info.path));
      NoteSeen(ino, fresh);
      if (fresh.version != first->version) first.reset();
      base = BaseFrom(fresh);
    } else if (!holes->empty()) {
      base.attrs[kAttrHoles] = *holes;
      base.size = Holes::Parse(*holes).LogicalSize(first->size);
    }
    // Its bytes are the file's only when it has no holes.
    if (first && base.attrs.count(kAttrHoles) != 0) first.reset();
  }
  reply.keep_cache = info.cached_version != 0 && info.cached_version == base.version;
  reply.attrs_stale = !reply.keep_cache;
  // A read-only handle has nothing to commit: attribute changes through it
  // (fchmod...) are stored at once (FileHandle::ChangeAttrs), so close(2)
  // needs no FLUSH.
  reply.no_flush = true;
  SetCachedVersion(ino, base.version);
  const uint64_t size = base.size;
  auto handle =
      std::make_shared<FileHandle>(client_, info.path, FileHandle::Mode::kRead,
                                   std::move(base), options_.limits, &pool_, &tasks_);
  if (!reply.keep_cache) {
    if (first) {
      bool eof = first->data.size() >= first->size;
      handle->SeedBlock(0, std::move(first->data), eof);
    } else {
      handle->StartReadAhead(0, std::min(kOpenFetch, size));
    }
  }
  reply.fh = AddHandle(ino, std::move(handle), false);
  return reply;
}

Result<ReadData> Vfs::ReadView(uint64_t fh, uint64_t off, uint64_t size) {
  std::shared_ptr<FileHandle> h = Handle(fh);
  if (!h) return MakeFsError(FsError::kBadHandle, "read");
  return h->Read(off, size);
}

Result<uint64_t> Vfs::Seek(uint64_t fh, uint64_t off, bool data) {
  std::shared_ptr<FileHandle> h = Handle(fh);
  if (!h) return MakeFsError(FsError::kBadHandle, "lseek");
  std::optional<uint64_t> to = h->Seek(off, data);
  if (!to) {
    return MakeFsError(FsError::kPastEnd, std::string(data ? "no data" : "no hole") +
                                              " at or after offset " +
                                              std::to_string(off));
  }
  return *to;
}

Result<std::string> Vfs::Read(uint64_t fh, uint64_t off, uint64_t size) {
  SHOVEL_ASSIGN_OR_RETURN(ReadData r, ReadView(fh, off, size));
  return std::string(r.bytes);
}

Result<size_t> Vfs::Write(uint64_t fh, uint64_t off, std::string_view data,
                          uint32_t writer_uid, bool* mode_changed) {
  std::shared_ptr<FileHandle> h = Handle(fh);
  if (!h) return MakeFsError(FsError::kBadHandle, "write");
  SHOVEL_RETURN_IF_ERROR(CheckFileSize(off + data.size()));
  if (writer_uid != 0) {
    SHOVEL_ASSIGN_OR_RETURN(bool killed, KillPrivileges(fh, *h));
    if (mode_changed != nullptr) *mode_changed = killed;
  }
  return h->Write(off, data);
}

Status Vfs::Flush(uint64_t fh) {
  uint64_t ino;
  std::shared_ptr<FileHandle> h;
  {
    std::lock_guard lock(handles_mu_);
    auto it = handles_.find(fh);
    if (it == handles_.end()) return MakeFsError(FsError::kBadHandle, "flush");
    ino = it->second.ino;
    h = it->second.handle;
  }
  Changing changing(file_epoch_);
  uint64_t before = h->committed_version();
  Status s = h->Flush();
  uint64_t after = h->committed_version();
  if (after != before) {
    NoteSeen(ino, after, h->StoredHoles());
    // Other descriptors of this mount read the new version from now on:
    // its holes may place the stored bytes elsewhere (a punch, a write
    // into a hole).
    const BaseState base = h->Base();
    for (const auto& other : HandlesOf(ino)) {
      if (other != h) other->Rebase(base);
    }
    // The page cache holds what this handle wrote: that is the committed
    // version when the handle wrote it whole and no other handle of the
    // inode was open meanwhile (its reads could have cached older bytes).
    bool alone;
    {
      std::lock_guard lock(handles_mu_);
      auto it = handles_.find(fh);
      alone = it != handles_.end() && !it->second.shared;
    }
    SetCachedVersion(ino, alone && h->wrote_whole_version() ? after : 0);
  }
  return s;
}

Status Vfs::Fsync(uint64_t fh) { return Flush(fh); }

Status Vfs::Release(uint64_t fh) {
  std::string unlinked_id;
  std::shared_ptr<FileHandle> last;
  {
    std::lock_guard lock(handles_mu_);
    auto it = handles_.find(fh);
    auto u = it == handles_.end() ? unlinked_.end() : unlinked_.find(it->second.ino);
    if (u != unlinked_.end()) {
      bool others = false;
      for (const auto& [other, of] : handles_) {
        others = others || (other != fh && of.ino == it->second.ino);
      }
      if (!others) {  // the last close of an unlinked file: nothing to commit
        unlinked_id = std::move(u->second);
        unlinked_.erase(u);
        last = std::move(it->second.handle);
        stores_.Closed(it->second.ino, it->second.writable);
        handles_.erase(it);
      }
    }
  }
  if (last != nullptr) {
    last.reset();  // aborts a stream in progress
    Status s = client_->Delete(unlinked_id);
    if (!s.ok() && !s.IsNotFound()) {
      Warn("cannot free unlinked file '" + unlinked_id + "': " + s.ToString());
    }
    return Status::Ok();
  }
  Status s = Flush(fh);
  if (!s.ok()) Warn("commit at close failed: " + s.ToString());
  std::lock_guard lock(handles_mu_);
  if (auto it = handles_.find(fh); it != handles_.end()) {
    stores_.Closed(it->second.ino, it->second.writable);
    handles_.erase(it);
  }
  return s;
}

void Vfs::Abandon(uint64_t fh) {
  std::shared_ptr<FileHandle> gone;
  {
    std::lock_guard lock(handles_mu_);
    auto it = handles_.find(fh);
    if (it == handles_.end()) return;
    gone = std::move(it->second.handle);
    stores_.Closed(it->second.ino, it->second.writable);
    handles_.erase(it);
  }
  // Destroyed here, unlocked: a stream not yet committed is aborted.
}

Result<bool> Vfs::KillPrivileges(uint64_t fh, FileHandle& h) {
  constexpr uint32_t kSetUid = 04000, kSetGid = 02000, kGroupExec = 00010;
  std::optional<uint32_t> mode = h.StoredMode();
  if (!mode) return false;  // the default modes have neither bit
  uint32_t kill = *mode & kSetUid;
  if ((*mode & (kSetGid | kGroupExec)) == (kSetGid | kGroupExec)) kill |= kSetGid;
  if (kill == 0) return false;
  uint64_t ino;
  {
    std::lock_guard lock(handles_mu_);
    auto it = handles_.find(fh);
    if (it == handles_.end()) return MakeFsError(FsError::kBadHandle, "write");
    ino = it->second.ino;
  }
  AttrChange change;
  change.perm = *mode & ~kill;
  SHOVEL_RETURN_IF_ERROR(SetAttr(ino, fh, change).status());
  return true;
}

Status Vfs::CheckFileSize(uint64_t size) {
  constexpr uint64_t kAlwaysFits = 64ull << 20;
  constexpr int64_t kRefreshNs = 10'000'000'000;
  if (size <= kAlwaysFits) return Status::Ok();
  const int64_t now = NowNs();
  uint64_t max = max_file_size_.load();
  if (max == 0 || now - max_file_size_ns_.load() > kRefreshNs) {
    SHOVEL_ASSIGN_OR_RETURN(std::vector<NodeInfo> nodes, client_->Members());
    max = 0;
    for (const NodeInfo& n : nodes) max = std::max(max, n.mem_limit);
    if (max == 0) return Status::Ok();  // limits unknown: the worker decides
    max_file_size_.store(max);
    max_file_size_ns_.store(now);
  }
  if (size <= max) return Status::Ok();
  return MakeFsError(FsError::kFileTooBig,
                     std::to_string(size) + " bytes is more than any worker can hold (" +
                         std::to_string(max) +
                         " bytes, the largest memory limit; a file lives on one worker)");
}

Status Vfs::Truncate(const InodeInfo& info, uint64_t ino, std::optional<uint64_t> fh,
                     uint64_t size) {
  Changing changing(file_epoch_);
  std::shared_ptr<FileHandle> h = fh ? Handle(*fh) : nullptr;
  if (h == nullptr) h = PendingHandle(ino);
  if (h != nullptr && !h->is_append()) return h->Truncate(size);
  SetCachedVersion(ino, 0);
  if (size == 0) {
    // Holes first: the SET's new version drops pages cached meanwhile.
    Status s = client_->SetAttrs(info.path, {}, {kAttrHoles});
    if (!s.ok() && !s.IsNotFound()) return s;
    return client_->Set(info.path, "").status();
  }
  SHOVEL_ASSIGN_OR_RETURN(BlobStat st, client_->Stat(info.path));
  FileHandle temp(client_, info.path, FileHandle::Mode::kRead, BaseFrom(st),
                  options_.limits, &pool_, &tasks_);
  SHOVEL_RETURN_IF_ERROR(temp.Truncate(size));
  return temp.Flush();
}

}  // namespace shovel::fs
