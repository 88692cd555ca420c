// Vfs: the semantics of shovelfs, with no FUSE in it.
//
// Maps inodes, names, handles and open flags to shovel::Client calls (see
// paths.h for how ids become files and directories, file_handle.h for how
// writes become set/append, attr.h for what is stored with an id). The FUSE
// binding (fuse_ops.cc) decodes each request, calls one method here and turns
// the result into one reply; errno is made there from the returned Status
// (fuse_edge.h). Unit-tested against an in-memory Client and a real one.
//
// Consistency: close-to-open, like NFS. Open asks the cache for the blob's
// version; the kernel page cache is kept (OpenReply::keep_cache) only while
// that version equals the one the cache was filled from, else the binding
// drops it and the stale attributes (OpenReply::attrs_stale). A Stat taken by
// the lookup that starts the same open(2) (< 10 ms old) serves the open;
// without one, a read-only open of a file whose page cache may be valid
// asks for its Stat (which also answers the GETATTR the kernel sends next,
// for reads past the end), and any other read-only open fetches the file's
// first block with its version (one round trip for both the check and a
// small file's data). A
// file this mount wrote whole (create or O_TRUNC, one sequential stream)
// keeps the page cache its writes filled, under the committed version.
// Lookup asks Client::StatName: file, directory or missing in one round trip.
// The kernel drops a directory's attributes after every create or unlink in
// it and asks again (GETATTR) at the next path walk; those answers are
// reused for VfsOptions::hint_max_age_ns while no directory changed through this mount,
// so a stream of creates in one directory does not pay a round trip each.
//
// Thread-safety: every method is thread-safe. Locks (never held across a
// Client call): handles_mu_, then the FileHandle's own mutex is taken only
// after handles_mu_ is released; dirs_mu_, hints_mu_ and links_mu_ are leaves
// (dir_times_ has its own leaf lock, and a thread that calls the Client). The
// InodeTable has its own leaf lock, and so has stores_ (PageStoreGate), whose
// waits (a version change, a writable open) run with no Vfs lock held. The
// Client must outlive the Vfs.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shovel/client.h"
#include "shovel/fs/attr.h"
#include "shovel/fs/buffer_pool.h"
#include "shovel/fs/dir_times.h"
#include "shovel/fs/file_handle.h"
#include "shovel/fs/inode_table.h"
#include "shovel/fs/page_store_gate.h"
#include "shovel/fs/task_pool.h"

namespace shovel::fs {

struct VfsOptions {
  Owner owner;  // owner of everything without a stored uid/gid
  HandleLimits limits;
  // Warnings a user should see (a refused xattr, a failed close-time commit).
  std::function<void(std::string_view)> log;
  // How long the answer of one round trip serves the requests right after
  // it: the open(2) after its lookup, a directory's GETATTRs (see above).
  int64_t hint_max_age_ns = 10'000'000;  // 10 ms
  // Read-around stores in flight at once (PageStoreGate; StoresForThreads
  // gives it for a FUSE thread count). 0: a read fetches only its range.
  size_t max_stores = 4;
};

struct OpenReply {
  uint64_t fh = 0;
  bool keep_cache = false;   // page cache still holds this version
  bool direct_io = false;    // O_APPEND: bypass the page cache
  bool attrs_stale = false;  // kernel attributes may be old: invalidate them
  // Nothing to commit at close (a read-only open): the kernel need not send
  // FLUSH (FOPEN_NOFLUSH), saving a request per close(2).
  bool no_flush = false;
};

struct DirEntry {
  std::string name;
  bool is_dir = false;
  uint64_t next_offset = 0;  // the readdir offset that follows this entry
  // Of a non-directory; unset when its Stat failed (readdir reports
  // DT_UNKNOWN and the caller's lstat tells).
  std::optional<FileType> type;
  bool typed = false;  // `type` was looked up (directories need no lookup)
};

struct FsStats {
  uint64_t total_bytes = 0;
  uint64_t used_bytes = 0;
  uint64_t ids = 0;
};

enum class XattrSetMode { kAny, kCreate, kReplace };

class Vfs {
 public:
  Vfs(Client* client, VfsOptions options);
  ~Vfs();
  Vfs(const Vfs&) = delete;
  Vfs& operator=(const Vfs&) = delete;

  // Names. Lookup, MkDir and Create add one kernel reference to the inode.
  Result<Attr> Lookup(uint64_t parent, std::string_view name);
  void Forget(uint64_t ino, uint64_t nlookup);
  Result<Attr> GetAttr(uint64_t ino);
  Result<Attr> SetAttr(uint64_t ino, std::optional<uint64_t> fh,
                       const AttrChange& change);
  Result<Attr> MkDir(uint64_t parent, std::string_view name, uint32_t perm, Owner who);
  Status RmDir(uint64_t parent, std::string_view name);
  Status Unlink(uint64_t parent, std::string_view name);
  // Renames a file, or a directory with everything under it (vfs_rename.cc
  // says what another reader sees meanwhile). Errors as rename(2): EEXIST
  // (`no_replace` and a taken name), EISDIR (a file onto a directory),
  // ENOTDIR (a directory onto a file), ENOTEMPTY (onto a directory that
  // holds entries), EINVAL (a directory into its own subtree), ENAMETOOLONG
  // (an entry's new path would be too long).
  Status Rename(uint64_t parent, std::string_view name, uint64_t new_parent,
                std::string_view new_name, bool no_replace);
  // Symlinks and special files (vfs_special.cc), visible to every mount.
  // Errors: EEXIST for a taken name; ENOENT for an empty target,
  // ENAMETOOLONG for one over 4095 bytes; EINVAL from ReadLink of anything
  // but a symlink.
  Result<Attr> Symlink(uint64_t parent, std::string_view name, std::string_view target,
                       Owner who);
  Result<std::string> ReadLink(uint64_t ino);
  // Hard links (vfs_links.cc): `new_name` becomes a second name of regular
  // file `ino`. EPERM for a directory, symlink or special file; EEXIST for
  // a taken name.
  Result<Attr> Link(uint64_t ino, uint64_t new_parent, std::string_view new_name);
  // A FIFO, socket, device node or (kRegular) empty file.
  Result<Attr> MkNod(uint64_t parent, std::string_view name, FileType type, uint32_t perm,
                     uint64_t rdev, Owner who);

  // Files. `flags` are open(2) flags.
  struct Created {
    Attr attr;
    OpenReply open;
  };
  Result<Created> Create(uint64_t parent, std::string_view name, uint32_t perm, int flags,
                         Owner who);
  Result<OpenReply> Open(uint64_t ino, int flags);
  Result<std::string> Read(uint64_t fh, uint64_t off, uint64_t size);
  // Read without a copy: a view into the handle's read-ahead block.
  Result<ReadData> ReadView(uint64_t fh, uint64_t off, uint64_t size);
  // Whether a read's ReadData::around bytes (of `version`) may be put into
  // the page cache of `ino` now (PageStoreGate); if so, EndStore(ino) once
  // they are.
  bool BeginStore(uint64_t ino, uint64_t version) { return stores_.Begin(ino, version); }
  void EndStore(uint64_t ino) { stores_.End(ino); }
  // lseek(2) SEEK_DATA (`data`) or SEEK_HOLE of an open file: the offset,
  // or kPastEnd (ENXIO) at or past its end.
  Result<uint64_t> Seek(uint64_t fh, uint64_t off, bool data);
  // `writer_uid`: the writing process's uid. A write by anyone but root
  // clears the file's set-user-ID bit, and its set-group-ID bit when group
  // execute is set (as Linux does; the kernel does it itself for writes
  // through the page cache, not for O_APPEND's direct I/O); then
  // `*mode_changed` (if given) is set: the kernel's cached mode is stale.
  Result<size_t> Write(uint64_t fh, uint64_t off, std::string_view data,
                       uint32_t writer_uid = 0, bool* mode_changed = nullptr);
  // fallocate(2) of open file `fh` (vfs_fallocate.cc); `mode` is the
  // FALLOC_FL_* flags. Mode 0 grows the file to off + len (a hole, never a
  // shrink), KEEP_SIZE reserves nothing, PUNCH_HOLE|KEEP_SIZE makes the range
  // read as zeros. Errors as Linux: EBADF (not open for writing), EINVAL
  // (off < 0, len <= 0), EFBIG (off + len overflows or no worker could hold
  // it), EOPNOTSUPP (any other mode).
  Status Fallocate(uint64_t fh, int mode, int64_t off, int64_t len);
  Status Flush(uint64_t fh);
  Status Fsync(uint64_t fh);
  Status Release(uint64_t fh);
  // Forgets an open the kernel never learned of (its open(2) was
  // interrupted): nothing is committed, so an O_TRUNC open truncates nothing.
  void Abandon(uint64_t fh);

  // Directories. Offsets 0 and 1 are "." and "..".
  Result<uint64_t> OpenDir(uint64_t ino);
  Result<std::vector<DirEntry>> ReadDir(uint64_t fh, uint64_t offset, size_t max);
  void ReleaseDir(uint64_t fh);

  Result<FsStats> StatFs();

  // Extended attributes (see docs/shovelfs.md for the user.shovel.* names).
  Result<std::string> GetXattr(uint64_t ino, std::string_view name);
  Result<std::vector<std::string>> ListXattr(uint64_t ino);
  Status SetXattr(uint64_t ino, std::string_view name, std::string_view value,
                  XattrSetMode mode);
  Status RemoveXattr(uint64_t ino, std::string_view name);

  const InodeTable& inodes() const { return inodes_; }

 private:
  struct OpenFile {
    uint64_t ino = 0;
    std::shared_ptr<FileHandle> handle;
    bool shared = false;  // another handle of the inode was open meanwhile
    bool writable = false;
  };
  struct DirHandle;
  struct StatHint {
    BlobStat stat;
    int64_t taken_ns = 0;
    uint64_t epoch = 0;  // file_epoch_ when the round trip started (attr_hints_)
  };
  struct DirAttrHint {
    Attr attr;
    int64_t taken_ns = 0;
    uint64_t epoch = 0;  // dir_epoch_ when the round trip started
  };

  Result<InodeInfo> Node(uint64_t ino) const;
  Result<InodeInfo> DirNode(uint64_t ino) const;
  // Attributes of directory `path` from its marker; NotFound if it is gone.
  Result<Attr> DirAttr(const std::string& path);
  // The subdirectories of a directory (its st_nlink is 2 + this).
  Result<uint64_t> CountSubdirs(const std::string& path);
  // DirAttr, or its answer of less than hint_max_age_ns ago if no directory
  // changed through this mount since (GetAttr of directories).
  Result<Attr> RecentDirAttr(const std::string& path);
  // Made before a change through this mount; when it goes out of scope,
  // after the change (even a failed one), it moves `epoch` on, so no answer
  // taken before is used again. dir_epoch_: a change that may touch a
  // directory (mkdir, rmdir, unlink, rename, chmod or xattrs of a directory).
  // file_epoch_: a change to a file's bytes or attributes (commit, chmod,
  // truncate, xattrs).
  struct Changing {
    explicit Changing(std::atomic<uint64_t>& e) : epoch(e) {}
    ~Changing() { epoch.fetch_add(1); }
    Changing(const Changing&) = delete;
    Changing& operator=(const Changing&) = delete;
    std::atomic<uint64_t>& epoch;
  };
  Status EnsureMarker(const std::string& dir);
  enum class NameKind { kMissing, kFile, kDirectory };
  // What `id` names now: a file (stored, a hard-link name, or created here
  // and not committed), a directory (its marker or ids under it), or nothing.
  Result<NameKind> KindOf(const std::string& id);
  // Renames file `from` over `to` (not a directory); false when both are
  // names of one hard-linked file (nothing done).
  Result<bool> RenameFile(const std::string& from, const std::string& to);
  // Moves directory `from` and every id under it to `to` (see vfs_rename.cc).
  Status RenameDir(const std::string& from, const std::string& to, NameKind to_kind);
  // EEXIST when `id` is a file, a directory or a file being created here.
  Status CheckFree(const std::string& id);
  // Stores a new non-directory `id` with its bytes and attribute keys.
  Result<Attr> MakeNode(uint64_t parent, std::string_view name, std::string_view content,
                        const AttrChange& change, FileType type, uint64_t rdev);
  // Sets the mtime and ctime of directory `dir` (its marker's, if it has
  // one) to now: an entry in it was made or removed. Stored in the
  // background (dir_times_); MergeDirTimes shows it here at once.
  void TouchDir(const std::string& dir);
  void StoreDirTimes(const std::string& dir, int64_t ns);
  void MergeDirTimes(const std::string& dir, Attr* attr) const;
  // A set-group-ID directory `dir` gives a new entry its group, and a new
  // directory its set-group-ID bit (as Linux does): adjusts `change`.
  Status InheritFromDir(const std::string& dir, bool is_dir, AttrChange* change);
  // EFBIG when a file of `size` bytes could never be held: an id lives on
  // one worker, so its size is at most the largest worker's memory limit
  // (asked with Members, at most every 10 s). Sizes up to 64 MiB pass
  // without asking.
  Status CheckFileSize(uint64_t size);
  // Unlink of `id` (inode `ino`) while this mount has it open: renamed to
  // its kOpenUnlinkedDir id, deleted by the last Release (vfs_unlinked.cc).
  Status UnlinkOpen(const std::string& id, uint64_t ino,
                    const std::vector<std::shared_ptr<FileHandle>>& open);
  std::vector<std::shared_ptr<FileHandle>> HandlesOf(uint64_t ino) const;
  // Hard links: names known to be links, and their data ids.
  std::optional<std::string> LinkedName(const std::string& id) const;
  void RememberLink(const std::string& id, const std::string& data);
  void ForgetLink(const std::string& id);
  Status MakeLinkName(const std::string& id, const std::string& data);
  // Adds `delta` to the data id's "nlink"; returns the new count.
  Result<uint32_t> AddLinks(const std::string& data, int delta);
  // A name of `data` went away: one link less; frees the bytes at zero
  // (at the last close if this mount has them open).
  Status DropLink(const std::string& data);
  // Clears set-user-ID / set-group-ID of the file open as `fh` (see Write).
  // Returns whether it changed the mode.
  Result<bool> KillPrivileges(uint64_t fh, FileHandle& h);
  Status ChangeStored(const InodeInfo& info, uint64_t ino, std::optional<uint64_t> fh,
                      const StoredChange& change);
  Status Truncate(const InodeInfo& info, uint64_t ino, std::optional<uint64_t> fh,
                  uint64_t size);
  Result<BlobStat> StatForOpen(uint64_t ino, const std::string& id);
  // Takes `ino`'s hint out of `from`: its Stat if fresh, of `id`, and (when
  // `epoch` is set) taken at that epoch.
  std::optional<BlobStat> TakeHint(std::unordered_map<uint64_t, StatHint>& from,
                                   uint64_t ino, const std::string& id,
                                   std::optional<uint64_t> epoch);
  // The lookup's Stat of this open(2), if fresh (taken from hints_).
  std::optional<BlobStat> FreshHint(uint64_t ino, const std::string& id) {
    return TakeHint(hints_, ino, id, std::nullopt);
  }
  // The Stat an open of `ino` just made, for the GETATTR that follows it
  // (taken from attr_hints_), if fresh and no file changed here since.
  std::optional<BlobStat> OpenedStat(uint64_t ino, const std::string& id) {
    return TakeHint(attr_hints_, ino, id, file_epoch_.load());
  }
  Result<OpenReply> OpenForRead(uint64_t ino, const InodeInfo& info);
  // The version and holes (holes.h) this mount last saw for a file, from a
  // Stat or its own commit: a read-only open whose GET shows that version
  // knows the file's holes without a Stat.
  void NoteSeen(uint64_t ino, uint64_t version, std::string holes);
  void NoteSeen(uint64_t ino, const BlobStat& st);
  // The holes last seen, if seen at `version`.
  std::optional<std::string> SeenAt(uint64_t ino, uint64_t version) const;
  uint64_t AddHandle(uint64_t ino, std::shared_ptr<FileHandle> handle, bool writable);
  // Records the version the page cache of `ino` holds (InodeTable and
  // stores_).
  void SetCachedVersion(uint64_t ino, uint64_t version);
  std::shared_ptr<FileHandle> Handle(uint64_t fh) const;
  // A handle of `ino` holding uncommitted data or attributes, if any.
  std::shared_ptr<FileHandle> PendingHandle(uint64_t ino) const;
  void Warn(std::string_view message) const;

  Client* const client_;
  const VfsOptions options_;
  InodeTable inodes_;
  PageStoreGate stores_{options_.max_stores};  // read-around bytes into the page cache
  BufferPool pool_;  // read-ahead blocks; outlives the handles below
  // Runs the read-ahead fetches of every handle; drained before pool_ goes.
  TaskPool tasks_{4};

  mutable std::mutex handles_mu_;  // guards handles_, next_fh_, unlinked_
  std::unordered_map<uint64_t, OpenFile> handles_;
  uint64_t next_fh_ = 1;
  // Inodes unlinked while open, by inode: their kOpenUnlinkedDir id.
  std::unordered_map<uint64_t, std::string> unlinked_;
  const std::string mount_tag_;  // random: names this mount's unlinked ids

  mutable std::mutex links_mu_;  // guards links_, next_link_ (a leaf)
  std::unordered_map<std::string, std::string> links_;  // link name -> data id
  uint64_t next_link_ = 1;

  std::atomic<uint64_t> max_file_size_{0};  // 0: not known yet
  std::atomic<int64_t> max_file_size_ns_{0};

  // Last: its thread stores through client_ and Warn until it is joined.
  DirTimes dir_times_{
      [this](const std::string& dir, int64_t ns) { StoreDirTimes(dir, ns); }};

  mutable std::mutex dirs_mu_;  // guards dirs_, next_dir_
  std::unordered_map<uint64_t, std::shared_ptr<DirHandle>> dirs_;
  uint64_t next_dir_ = 1;

  struct Seen {
    uint64_t version = 0;
    std::string holes;
  };
  mutable std::mutex hints_mu_;  // guards hints_, attr_hints_, dir_attrs_, seen_
  std::unordered_map<uint64_t, Seen> seen_;
  std::unordered_map<uint64_t, StatHint> hints_;
  std::unordered_map<uint64_t, StatHint> attr_hints_;
  std::atomic<uint64_t> file_epoch_{0};
  std::unordered_map<std::string, DirAttrHint> dir_attrs_;
  std::atomic<uint64_t> dir_epoch_{0};
};

}  // namespace shovel::fs
