// InodeTable: the inode numbers shovelfs hands to the kernel.
//
// An inode names a path (an id, or a directory prefix; the root is "" and
// inode 1). Lookup adds one kernel reference, Forget drops n; an inode is
// freed when its count reaches zero (the root never is). Freed numbers are
// reused with a higher generation, so (ino, generation) never names two
// different files, as the kernel requires for NFS export and as FUSE
// documents. Unlinked and renamed-over inodes are detached: they keep their
// number until forgotten, but a new file with the same path gets a new inode.
// Each inode also keeps the blob version whose bytes the kernel page cache
// holds (0 = unknown), used to decide keep_cache at open.
//
// Thread-safe: one internal mutex, held only for map updates (never across
// calls to the cache).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace shovel::fs {

inline constexpr uint64_t kRootIno = 1;

struct InodeRef {
  uint64_t ino = 0;
  uint64_t generation = 0;
};

struct InodeInfo {
  std::string path;
  bool is_dir = false;
  bool detached = false;  // unlinked or replaced; path no longer maps here
  uint64_t generation = 0;
  uint64_t nlookup = 0;
  uint64_t cached_version = 0;
};

class InodeTable {
 public:
  InodeTable();

  // The inode of `path` (created if needed, or replaced when its kind
  // changed), with one more kernel reference.
  InodeRef Acquire(const std::string& path, bool is_dir);
  // Drops `n` references; frees the inode at zero (never the root).
  void Forget(uint64_t ino, uint64_t n);
  // A copy of the inode's state; nullopt for an unknown or freed number.
  std::optional<InodeInfo> Get(uint64_t ino) const;
  // The live inode of `path`, if any.
  std::optional<uint64_t> Find(std::string_view path) const;
  // `path` no longer names its inode (unlink, rmdir).
  void Detach(std::string_view path);
  // The inode of `from` now names `to`; an inode that named `to` is detached.
  void Move(std::string_view from, const std::string& to);
  // Directory rename: every inode of `from` or under "from/" now names the
  // same path under `to`; inodes that named `to` or a path under it are
  // detached first.
  void MovePrefix(const std::string& from, const std::string& to);
  // Page-cache version bookkeeping (see the header comment).
  void SetCachedVersion(uint64_t ino, uint64_t version);
  // Number of live inodes, the root included.
  size_t size() const;

 private:
  struct Slot {
    bool used = false;
    InodeInfo info;
  };
  void DetachLocked(std::string_view path);

  mutable std::mutex mu_;
  std::vector<Slot> slots_;  // index = ino; slot 0 unused
  std::vector<uint64_t> free_;
  std::unordered_map<std::string, uint64_t> by_path_;
};

}  // namespace shovel::fs
