// PageStoreGate: when the bytes a read fetched around its range may be put
// into the kernel page cache of an inode (FUSE notify_store), so that the
// page cache never holds bytes the kernel would not have read itself.
//
// The kernel drops an inode's page cache when an open answers without
// keep_cache, and fills it from writes through the mount. A store is
// therefore allowed only
//  - of the version the inode's page cache is recorded to hold
//    (SetVersion, which the Vfs calls wherever it records that version), and
//  - while no handle of the inode that may write is open in this mount
//    (its writes fill the page cache; an older version stored over them
//    would hide them).
// SetVersion to another version and Opened(writable) return only once the
// stores in flight on the inode have ended, so a store that passed Begin
// lands before the open that changes the version is answered (and before
// the kernel drops the page cache for it) or does not start at all.
// At most `max_in_flight` stores run at once over all inodes: a store may
// wait for a page the kernel has locked for a READ still to be answered,
// and the other FUSE threads stay free to answer it.
//
// Thread-safety: all methods are thread-safe; one internal mutex, a leaf,
// never held while waiting (a condition variable releases it).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace shovel::fs {

class PageStoreGate {
 public:
  explicit PageStoreGate(size_t max_in_flight = 4) : max_in_flight_(max_in_flight) {}
  PageStoreGate(const PageStoreGate&) = delete;
  PageStoreGate& operator=(const PageStoreGate&) = delete;

  // The inode's page cache holds `version` now (0: unknown, nothing may be
  // stored). Returns once no store of another version is in flight on it.
  void SetVersion(uint64_t ino, uint64_t version);
  // A handle of `ino` was opened; a `writable` one returns once the stores
  // in flight on the inode have ended, and none starts until it is Closed.
  void Opened(uint64_t ino, bool writable);
  void Closed(uint64_t ino, bool writable);
  // True when bytes of `version` may be stored into the page cache of `ino`
  // now; the caller stores them, then calls End(ino).
  bool Begin(uint64_t ino, uint64_t version);
  void End(uint64_t ino);
  // Inodes with state (for tests: closed inodes leave none).
  size_t size() const;

 private:
  struct Inode {
    uint64_t version = 0;
    uint64_t handles = 0;
    uint64_t writers = 0;
    uint64_t in_flight = 0;
  };
  void WaitIdleLocked(std::unique_lock<std::mutex>& lock, uint64_t ino);
  void EraseIfUnusedLocked(uint64_t ino);

  const size_t max_in_flight_;
  mutable std::mutex mu_;  // guards everything below
  std::condition_variable idle_;
  std::unordered_map<uint64_t, Inode> inodes_;
  size_t in_flight_ = 0;
};

}  // namespace shovel::fs
