// FileHandle: the state of one open(2) of a file in shovelfs.
//
// How writes become cache calls (docs/shovelfs.md, "What each operation does"):
//  - kStream (O_TRUNC or a new file): writes at the current end go straight to
//    a streaming Client::Writer (kSet); nothing is visible until Flush commits,
//    so a 4 GiB cp holds only the writer's in-flight chunk. A write past the
//    end leaves a hole for the gap (up to max_gap; small gaps are zeros). A
//    write before the end, a truncate below it or a read switches to patch
//    mode, which first commits what was streamed (then visible early).
//  - patch (any other writable open): written ranges are kept in memory as
//    extents over the committed blob. Flush appends them when they only extend
//    the blob, else streams a new value (unchanged ranges copied with
//    Client::GetTo, i.e. read-modify-write: the cost is one read and one write
//    of the whole blob per flush). Zeros the patch adds (truncate up, writes
//    past the end) become holes, never stored bytes (holes.h). More than
//    max_dirty bytes pending flushes early.
//  - kAppend (O_APPEND): each write(2) is one Client::Append, so concurrent
//    appenders never tear each other's writes and one writer keeps its order.
//    The kernel splits a write(2) larger than max_write into pieces of
//    max_write bytes at consecutive offsets: a piece of that size is held
//    (acknowledged) until the piece that ends the write(2) (a shorter one),
//    a write at another offset, a read or Flush, and all go in one append
//    (a write(2) of an exact multiple of max_write thus shows at the next
//    write or close; a failed append of held pieces also fails Flush).
//  - Reads use ranged gets. A ReadAhead policy tells sequential from random
//    access: a random read fetches its range on the calling thread and
//    keeps nothing (the kernel's page cache holds it), in one buffer: the
//    Client's GetBytes (an in-process reply is not copied). A random read
//    of a read-only handle is widened to multiples of `read_around` (the
//    worker decompresses whole frames of that size anyway) and hands the
//    rest back with the reply (ReadData::around) for the binding to put
//    into the page cache (Vfs::BeginStore says when it may; never while a
//    writable handle is open: docs/shovelfs.md, Reads); a sequential one
//    keeps a window ahead of it fetched or in flight (it starts at
//    `readahead_initial` and doubles up to readahead * readahead_blocks),
//    topped up in large blocks on the shared TaskPool once less than half
//    of it is left. Large blocks fill pooled buffers; a read reply is a view
//    into a block (ReadData), not a copy. Open may hand over a first block
//    (SeedBlock) fetched with the version check, so a small file costs one
//    round trip. No thread is made per read.
// chmod/chown/utimens/xattr changes made while data is uncommitted wait and
// are stored right after the commit (the id may not exist before it).
//
// Thread-safety: all methods are thread-safe (one mutex per handle; FUSE may
// send several requests for one handle at once). The Client must outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shovel/client.h"
#include "shovel/fs/attr.h"
#include "shovel/fs/holes.h"
#include "shovel/fs/read_ahead.h"

namespace shovel::fs {

struct HandleLimits {
  uint64_t readahead = 4ull << 20;            // largest read-ahead block
  uint64_t readahead_blocks = 2;              // the window grows to this many blocks
  uint64_t readahead_initial = 128ull << 10;  // the first sequential window
  // A read this close to where the sequential run ended still continues it
  // (the kernel's read-ahead requests arrive on several threads).
  uint64_t readahead_reorder = 2ull << 20;
  uint64_t max_dirty = 64ull << 20;
  uint64_t max_gap = 64ull << 20;
  // The largest write the kernel sends (the mount's max_write): an O_APPEND
  // piece of this size may be part of a larger write(2).
  uint64_t max_write = 1ull << 20;
  // A random read of a read-only handle fetches its range widened to
  // multiples of this many bytes (0: only its range). The worker's
  // compressed frame size (worker/src/chunk.h kFrameBytes): the frames a
  // read touches are decoded whole anyway.
  uint64_t read_around = 32ull << 10;
};

// The committed blob as the handle knows it.
struct BaseState {
  bool exists = false;
  uint64_t size = 0;  // the file's size: the blob's plus its holes (holes.h)
  uint64_t version = 0;
  std::map<std::string, std::string> attrs;
};

// The base of a stored file from its Stat (the size through its holes).
BaseState BaseFrom(const BlobStat& st);

// The bytes of one read: a view into a buffer that `owner` keeps alive.
struct ReadData {
  std::shared_ptr<const void> owner;
  std::string_view bytes;
  // Read-around (random reads of read-only handles): the bytes of file
  // range [around_off, around_off + around.size()) of blob version
  // `version`, `bytes` among them, also kept alive by `owner`. Empty
  // otherwise.
  std::string_view around;
  uint64_t around_off = 0;
  uint64_t version = 0;
  static ReadData Own(std::string s);
};

class BufferPool;
class TaskPool;

class FileHandle {
 public:
  enum class Mode { kRead, kStream, kAppend };

  // `pool` (may be null) supplies read-ahead buffers; `tasks` (may be null:
  // no read-ahead) runs read-ahead fetches. Both must outlive the handle.
  FileHandle(Client* client, std::string id, Mode mode, BaseState base,
             HandleLimits limits, BufferPool* pool = nullptr, TaskPool* tasks = nullptr);
  ~FileHandle();
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;

  Result<ReadData> Read(uint64_t off, uint64_t size);
  // lseek(2) SEEK_DATA (`data`) or SEEK_HOLE from `off`, through the holes
  // of the committed file (uncommitted writes: the file has none). nullopt
  // for ENXIO (at or past the end).
  std::optional<uint64_t> Seek(uint64_t off, bool data) const;
  // Bytes [off, off + data.size()) of the base version, already fetched
  // (eof: they end the blob). Read-only handles.
  void SeedBlock(uint64_t off, std::string data, bool eof);
  // Starts fetching [off, off + len) in the background (the first read
  // follows at once).
  void StartReadAhead(uint64_t off, uint64_t len);
  // Returns the bytes accepted (all of them, or an error).
  Result<size_t> Write(uint64_t off, std::string_view data);
  Status Truncate(uint64_t size);
  // Makes [off, off + len) read as zeros, the size unchanged (fallocate's
  // PUNCH_HOLE; file_handle_punch.cc): O(1) in memory, whatever `len`; the
  // commit rewrites the stored bytes around it and makes it a hole.
  Status PunchHole(uint64_t off, uint64_t len);
  // Commits pending data, then pending attributes. Errors are those of the
  // commit (kNoSpace, kUnavailable...); after an error the handle is clean.
  Status Flush();
  // Stores attribute changes now, or after the commit when data is pending.
  Status ChangeAttrs(const StoredChange& change);
  // The committed file as this handle knows it (after its own commits).
  BaseState Base() const;
  // Another handle of this mount committed `base`: a handle with nothing
  // pending reads that version from now on (its holes place the stored
  // bytes), its fetched blocks dropped; one with pending data keeps its own.
  void Rebase(const BaseState& base);
  // Follows a rename of the open file.
  void SetId(std::string id);
  // Commits a streamed set now (its bytes become visible), so the id exists
  // and later writes continue at offsets; nothing else is committed.
  Status CommitStream();
  // The stored permission bits ("mode" key, pending changes included), if
  // any: without one the file has the default mode.
  std::optional<uint32_t> StoredMode() const;

  // While data is uncommitted: the size and attributes stat should show.
  struct Pending {
    uint64_t size = 0;
    uint64_t hole_bytes = 0;  // of size, about: the holes as last committed or streamed
    std::map<std::string, std::string> attrs;  // base attrs + pending changes
  };
  std::optional<Pending> PendingView() const;
  bool is_append() const { return mode_ == Mode::kAppend; }
  // The "holes" attribute of the blob as this handle last knew it.
  std::string StoredHoles() const;
  // The version this handle last committed (0: none).
  uint64_t committed_version() const;
  // True when every byte of the committed version was written through this
  // handle as one stream from offset 0 after the kernel dropped the file's
  // page cache (create, O_TRUNC): the page cache then holds that version.
  bool wrote_whole_version() const;

 private:
  using Bytes = std::shared_ptr<const std::string>;
  // One block of read-ahead, fetched or in flight: [off, off + len) asked.
  struct Fetch {
    uint64_t off = 0;
    uint64_t len = 0;
    std::shared_future<Result<Bytes>> result;
  };

  bool HasPendingDataLocked() const;
  Status StreamWriteLocked(uint64_t off, std::string_view data);
  Status StreamZerosLocked(uint64_t n);
  // `n` bytes of zeros at the stream's end: a hole when large, else stored.
  Status StreamGapLocked(uint64_t n);
  // Makes the blob's "holes" attribute say `next` (after a commit of
  // `version`), then moves the blob to a new version (an empty append), so
  // pages cached from the blob under its old holes are never kept. Returns
  // the version the file is at; `version` when the holes did not change.
  Result<uint64_t> StoreHolesLocked(const Holes& next, uint64_t version);
  // The base's bytes [off, off + len) through its holes (GetLogical).
  Status GetBaseLocked(uint64_t off, uint64_t len,
                       const std::function<Status(std::string_view)>& sink) const;
  Status CommitStreamLocked();
  // Appends the held pieces and `tail` as one append.
  Status AppendHeldLocked(std::string_view tail);
  void PatchWriteLocked(uint64_t off, std::string_view data);
  void PatchTruncateLocked(uint64_t size);
  Status CommitPatchLocked();
  Status RebuildLocked();
  // The patch only grows the file (its extents and new size all lie at or
  // past the stored end, nothing truncated below it): true when it can be
  // committed by AppendTailLocked.
  bool GrowsOnlyLocked() const;
  // Commits such a patch as one streamed append of the new tail (zeros and
  // extents): the stored bytes are neither read nor rewritten, and the mount
  // holds one zero block whatever the size (file_handle_tail.cc).
  Status AppendTailLocked();
  Status CommitAttrsLocked(bool data_committed);
  Result<std::string> ReadPatchedLocked(uint64_t off, uint64_t size);
  Result<ReadData> ReadCached(std::unique_lock<std::mutex>& lock, uint64_t off,
                              uint64_t size);
  Result<ReadData> ReadBlocks(std::unique_lock<std::mutex>& lock, uint64_t off,
                              uint64_t size, uint64_t window);
  // The block holding `off`, if any.
  const Fetch* BlockAtLocked(uint64_t off) const;
  // Records a fetch of [off, off + len) and returns the work that fills it
  // (run inline or posted to the TaskPool).
  std::function<void()> IssueLocked(uint64_t off, uint64_t len);
  // Keeps [from, from + window) fetched or in flight (see the header note).
  void FetchAheadLocked(uint64_t from, uint64_t window);
  // Forgets blocks (moved to `dead`, destroyed by the caller unlocked: a
  // fetch in flight is waited for).
  void DropBlocksLocked(std::vector<Fetch>* dead);
  void AfterCommitLocked(uint64_t version, uint64_t size, const Holes& holes);

  Client* const client_;
  const HandleLimits limits_;

  mutable std::mutex mu_;  // guards everything below
  std::string id_;
  Mode mode_;
  BaseState base_;
  Holes holes_;  // base_'s holes (from its attributes)
  // kStream
  std::unique_ptr<Writer> writer_;
  uint64_t streamed_ = 0;
  uint64_t min_size_ = 0;
  bool stream_open_ = false;  // uncommitted stream (even if empty)
  Holes stream_holes_;        // gaps the stream skipped (logical offsets)
  // patch
  std::map<uint64_t, std::string> extents_;  // non-overlapping, by offset
  uint64_t keep_ = 0;  // base bytes still valid (truncate lowers it)
  // Base ranges below keep_ punched out: zeros under the extents (holes
  // once committed).
  Holes punched_;
  uint64_t size_ = 0;  // logical size in patch mode
  uint64_t dirty_bytes_ = 0;
  bool dirty_ = false;
  // attributes waiting for the commit
  StoredChange pending_attrs_;
  bool has_pending_attrs_ = false;
  uint64_t committed_version_ = 0;
  // kAppend: full-size pieces of one write(2) not yet appended, the offset
  // its next piece comes at, and a failed append of held pieces (for Flush).
  std::string append_held_;
  uint64_t append_next_ = 0;
  Status append_error_;
  bool whole_stream_ = false;  // see wrote_whole_version()
  // read-ahead
  BufferPool* const pool_;
  TaskPool* const tasks_;
  ReadAhead read_ahead_;
  std::map<uint64_t, Fetch> fetches_;  // by offset, non-overlapping
};

}  // namespace shovel::fs
