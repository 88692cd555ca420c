// FileHandle: the state of one open(2) of a file in shovelfs.
//
// How writes become cache calls (DESIGN.md, FUSE frontend):
//  - kStream (O_TRUNC or a new file): writes at the current end go straight to
//    a streaming Client::Writer (kSet); nothing is visible until Flush commits,
//    so a 4 GiB cp holds only the writer's in-flight chunk. A write past the
//    end streams zeros for the gap (up to max_gap). A write before the end, a
//    truncate below it or a read switches to patch mode, which first commits
//    what was streamed (then visible early).
//  - patch (any other writable open): written ranges are kept in memory as
//    extents over the committed blob. Flush appends them when they only extend
//    the blob, else streams a new value (unchanged ranges copied with
//    Client::GetTo, i.e. read-modify-write: the cost is one read and one write
//    of the whole blob per flush). More than max_dirty bytes pending flushes
//    early.
//  - kAppend (O_APPEND): each write(2) is one Client::Append, so concurrent
//    appenders never tear each other's writes and one writer keeps its order.
//  - Reads use ranged Client::Get in blocks of `readahead` bytes, prefetching
//    the next block in the background while a read is sequential.
// chmod/chown/utimens/xattr changes made while data is uncommitted wait and
// are stored right after the commit (the id may not exist before it).
//
// Thread-safety: all methods are thread-safe (one mutex per handle; FUSE may
// send several requests for one handle at once). The Client must outlive it.
#pragma once

#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "shovel/client.h"
#include "shovel/fs/attr.h"

namespace shovel::fs {

struct HandleLimits {
  uint64_t readahead = 4ull << 20;
  uint64_t max_dirty = 64ull << 20;
  uint64_t max_gap = 64ull << 20;
};

// The committed blob as the handle knows it.
struct BaseState {
  bool exists = false;
  uint64_t size = 0;
  uint64_t version = 0;
  std::map<std::string, std::string> attrs;
};

class FileHandle {
 public:
  enum class Mode { kRead, kStream, kAppend };

  FileHandle(Client* client, std::string id, Mode mode, BaseState base,
             HandleLimits limits);
  ~FileHandle();
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;

  Result<std::string> Read(uint64_t off, uint64_t size);
  // Returns the bytes accepted (all of them, or an error).
  Result<size_t> Write(uint64_t off, std::string_view data);
  Status Truncate(uint64_t size);
  // Commits pending data, then pending attributes. Errors are those of the
  // commit (kNoSpace, kUnavailable...); after an error the handle is clean.
  Status Flush();
  // Stores attribute changes now, or after the commit when data is pending.
  Status ChangeAttrs(const StoredChange& change);
  // Follows a rename of the open file.
  void SetId(std::string id);

  // While data is uncommitted: the size and attributes stat should show.
  struct Pending {
    uint64_t size = 0;
    std::map<std::string, std::string> attrs;  // base attrs + pending changes
  };
  std::optional<Pending> PendingView() const;
  bool is_append() const { return mode_ == Mode::kAppend; }
  // The version this handle last committed (0: none).
  uint64_t committed_version() const;

 private:
  struct Block {
    uint64_t off = 0;
    std::string data;
    bool eof = false;
  };

  bool HasPendingDataLocked() const;
  Status StreamWriteLocked(uint64_t off, std::string_view data);
  Status StreamZerosLocked(uint64_t n);
  Status CommitStreamLocked();
  void PatchWriteLocked(uint64_t off, std::string_view data);
  void PatchTruncateLocked(uint64_t size);
  Status CommitPatchLocked();
  Status RebuildLocked();
  Status CommitAttrsLocked(bool data_committed);
  Result<std::string> ReadPatchedLocked(uint64_t off, uint64_t size);
  Result<std::string> ReadCachedLocked(uint64_t off, uint64_t size);
  void AfterCommitLocked(uint64_t version, uint64_t size);

  Client* const client_;
  const HandleLimits limits_;

  mutable std::mutex mu_;  // guards everything below
  std::string id_;
  Mode mode_;
  BaseState base_;
  // kStream
  std::unique_ptr<Writer> writer_;
  uint64_t streamed_ = 0;
  uint64_t min_size_ = 0;
  bool stream_open_ = false;  // uncommitted stream (even if empty)
  // patch
  std::map<uint64_t, std::string> extents_;  // non-overlapping, by offset
  uint64_t keep_ = 0;  // base bytes still valid (truncate lowers it)
  uint64_t size_ = 0;  // logical size in patch mode
  uint64_t dirty_bytes_ = 0;
  bool dirty_ = false;
  // attributes waiting for the commit
  StoredChange pending_attrs_;
  bool has_pending_attrs_ = false;
  uint64_t committed_version_ = 0;
  // read-ahead
  Block block_;
  bool block_valid_ = false;
  std::future<Result<std::string>> prefetch_;
  uint64_t prefetch_off_ = 0;
};

}  // namespace shovel::fs
