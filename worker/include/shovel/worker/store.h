// Store: the worker's in-memory blob store. No sockets; thread-safe.
//
// A blob is a list of chunks (at most chunk_size raw bytes each), each
// compressed with zstd on its own, or kept raw when compression does not pay
// (decided by compressing a probe of the chunk's first bytes, so
// incompressible data costs one small probe per chunk, not a full pass).
// Blobs are immutable snapshots held by shared_ptr: readers copy the pointer
// under a shard lock and decompress outside it, so a SET is an atomic replace
// and readers see the old or the new bytes, never a mix. Compression runs
// outside every lock.
//
// Background compression (CompressInBackground(true), the worker's default):
// SET and uploads store compressible chunks raw ("deferred") so a write runs
// at memory speed; one idle-priority thread compresses them once they are
// kCompressAfterNs old (FIFO by the id's last write; one entry per id) and
// swaps each blob for an equal one with smaller chunks (same bytes, same
// version, same LRU place). Memory is charged for the raw bytes first and
// shrinks when a chunk is compressed; under memory pressure deferred chunks
// are compressed before anything is evicted. Stat's stored_bytes is always the
// bytes held now.
//
// Decoded cache (decoded_cache.h): the raw bytes of compressed chunks read
// recently, or just replaced by the background compressor, so reads of them
// run at raw speed. It holds chunks of current blobs only (every write drops
// the entries of the blob it replaces, under the shard lock), is charged to
// max_memory, never evicts stored data to grow (it is shrunk first when a
// write needs room), and is at most WorkerConfig's decoded-cache share.
//
// Memory: used = stored bytes + per-blob/per-chunk overhead + bytes of
// uploads in progress + the decoded cache. When a write does not fit under max_memory,
// unpinned ids are evicted least-recently-used (never the id being written); if it still
// does not fit it fails kNoSpace and nothing stored changes.
//
// Pointer records (for pinned ids placed on another worker) are kept beside
// the blobs; Service answers redirects from them.
//
// Thread-safety: every method may be called from any thread at any time.
// Lock order: Shard::mu (by ascending shard index when two are needed) before
// Store::index_mu_ and before Store::bg_mu_; Store::uploads_mu_ before Upload::mu is
// never held across a shard lock. DecodedCache's mutex is a leaf, taken under a
// shard lock or alone. No lock is held while compressing, decompressing or
// evicting.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "shovel/protocol.h"
#include "shovel/status.h"
#include "shovel/worker/config.h"

namespace shovel::worker {

struct Blob;
struct Chunk;
struct ChunkRef;
struct Entry;
struct Shard;
struct StringHash;
struct Upload;
class CodecPool;
class DecodedCache;
class SpreadPool;

// A piece of stored bytes kept alive by `owner` (zero-copy replies).
struct Slice {
  std::shared_ptr<const void> owner;
  const char* data = nullptr;
  size_t size = 0;
};

struct ReadResult {
  uint64_t offset = 0;  // where the bytes start
  uint64_t size = 0;    // whole blob size
  uint64_t version = 0;
  bool more = false;  // the range goes on past the returned bytes
  Slice bytes;
};

struct WriteOptions {
  bool pinned = false;            // pin the id (sticky: never unpins)
  bool if_version = false;        // apply only if the version matches
  uint64_t expected_version = 0;  // 0 = the id must not exist
  // A replica applying its primary's write: the version the write gets
  // (0: the store's own next version). Later own versions stay above it.
  uint64_t version = 0;
  // Apply only if the blob's current size is expected_size (kConflict
  // otherwise): a replica's append lands where it landed on the primary.
  bool if_size = false;
  uint64_t expected_size = 0;
};

struct WriteResult {
  uint64_t version = 0;
  uint64_t size = 0;
};

struct Pointer {
  std::string endpoint;
  std::string node_id;
};

struct ListResult {
  std::vector<std::string> names;  // sorted; relative to prefix with delimiter
  bool more = false;
};

struct StoreStats {
  uint64_t mem_used = 0;
  uint64_t mem_limit = 0;
  uint64_t ids = 0;
  uint64_t pinned_bytes = 0;
  uint64_t evictions = 0;
  uint64_t evicted_bytes = 0;  // memory evictions gave back (stored + overhead)
  uint64_t uploads = 0;
  // The decoded-chunk cache: reads of compressed chunks it answered / did
  // not, and what it holds now (counted in mem_used) and may hold.
  uint64_t decoded_hits = 0, decoded_misses = 0;
  uint64_t decoded_bytes = 0, decoded_capacity = 0;
};

// Sums over every blob held (a walk of the shards; for metrics, not the
// request path).
struct StoreTotals {
  uint64_t raw_bytes = 0;     // blob sizes
  uint64_t stored_bytes = 0;  // their stored (compressed) bytes
};

class Store {
 public:
  static constexpr size_t kShards = 16;
  static constexpr size_t kMaxUploads = 256;
  static constexpr int64_t kUploadIdleNs = 60'000'000'000;  // 60 s
  // The background compressor leaves a write raw this long (hot data is
  // read at memory speed); memory pressure compresses at once.
  static constexpr int64_t kCompressAfterNs = 1'000'000'000;  // 1 s

  Store(std::string node_id, const WorkerConfig& config);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Bytes of reply copies (decompressed ranges) that the server has handed
  // to ZeroMQ and not yet sent: writes fit under max_memory less these, so
  // replies in transit count against the limit. Any thread.
  std::atomic<int64_t>& transit_bytes() { return transit_; }
  // Bytes charged against max_memory now (Stats().mem_used, without locks).
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }

  // Called after each change of an id is in place, with the id's shard lock
  // held: a new version, or the id gone (`evicted`: by eviction, no request
  // made it). Set once before use; it must not call the store. Null: none.
  using ChangeHook = std::function<void(std::string_view id, bool evicted)>;
  void SetChangeHook(ChangeHook hook) { change_hook_ = std::move(hook); }

  // Live settings; lowering max_memory evicts down to it (pinned data stays).
  void ApplyConfig(const WorkerConfig& config);
  WorkerConfig config() const;

  // Replace atomically. kConflict on a version mismatch, kNoSpace when full.
  // `keep`, when set, keeps `data` alive and unchanged for as long as it is
  // held; a value of at most one chunk stored raw then keeps `keep` (charged
  // as its bytes) instead of a copy.
  Result<WriteResult> Set(std::string_view id, std::string_view data,
                          const WriteOptions& opt = {},
                          const std::shared_ptr<const void>& keep = nullptr);
  // Starts `helpers` threads that decompress the frames of one read beside
  // the thread that asked (spread_pool.h); 0 or never called: each read
  // decompresses on its own thread. Call once, before reads start.
  void StartDecodeHelpers(int helpers);
  // Turns background compression on or off (see above). Off: writes compress
  // before they return. Turning it off does not compress what is pending.
  void CompressInBackground(bool on);
  // Compresses deferred chunks of up to `max_ids` queued ids now, on this
  // thread; returns how many ids were handled (0: nothing pending).
  size_t CompressPending(size_t max_ids = SIZE_MAX);
  // Append atomically; creates the id if missing.
  Result<WriteResult> Append(std::string_view id, std::string_view data,
                             const WriteOptions& opt = {});
  // Takes the next version number for a write this store will apply later
  // with WriteOptions::version (a primary numbers a write before its
  // replicas have it).
  // Versions are hybrid clocks: the later of wall-clock ns and one past the
  // last version this store gave or was given, so the versions of one id
  // written by different primaries order as the writes did (clocks in step).
  uint64_t TakeVersion();
  // Creates an empty id. kAlreadyExists if it exists and `exclusive`;
  // otherwise an existing id is kept (and pinned if asked).
  // `version` as in WriteOptions.
  Result<WriteResult> Create(std::string_view id, bool pinned, bool exclusive,
                             uint64_t version = 0);
  // Up to max_bytes of [offset, offset+length); kNotFound if missing. A range
  // past the end is cut like pread. Marks the id recently used.
  Result<ReadResult> Read(std::string_view id, uint64_t offset, uint64_t length,
                          uint64_t max_bytes);
  // Like Read, but all or nothing: a range longer than max_bytes returns no
  // bytes and `more` set (offset where the range starts), decompressing
  // nothing. One lookup where a size probe and a Read would take two.
  Result<ReadResult> ReadIfFits(std::string_view id, uint64_t offset, uint64_t length,
                                uint64_t max_bytes);
  // True when Read(id, offset, length, max_bytes) would copy and decompress
  // nothing past `copy_bytes`: the id is missing, the blob is at most
  // copy_bytes, or the range lies in one raw chunk (a zero-copy slice).
  // Does not mark the id used.
  bool CheapRead(std::string_view id, uint64_t offset, uint64_t length,
                 uint64_t max_bytes, uint64_t copy_bytes) const;
  // True when Set of a `bytes`-long value passed with `keep` (its buffer
  // held alive) would copy and compress nothing: the value fits one chunk,
  // and compression is off or left to the background compressor.
  bool CheapSet(uint64_t bytes) const;
  Status Delete(std::string_view id, const WriteOptions& opt = {});
  // Deletes every unpinned id (a worker rejoining under a new epoch);
  // returns how many. Pinned ids and pointer records stay.
  size_t DropUnpinned();
  // ctime (first write), mtime (last write) and atime (last write or read)
  // are wall-clock ns at the kernel tick's resolution (a few ms).
  Result<wire::StatBody> Stat(std::string_view id);
  Status SetAttrs(std::string_view id, const wire::Attrs& set,
                  const std::vector<std::string>& drop);
  // Moves `from` to `to`, replacing `to` unless `exclusive` (kAlreadyExists).
  Status Rename(std::string_view from, std::string_view to, bool exclusive);

  Status PutPointer(std::string_view id, Pointer p);
  std::optional<Pointer> FindPointer(std::string_view id) const;
  bool RemovePointer(std::string_view id);

  // Sorted ids under `prefix` after `start_after` (as returned by a previous
  // page), at most `limit`. With `delimiter`, names are relative to the
  // prefix and deeper ids roll up into one "name/" entry.
  ListResult List(std::string_view prefix, std::string_view start_after, size_t limit,
                  bool delimiter) const;

  // Streamed writes. Pending bytes count toward max_memory; uploads idle for
  // kUploadIdleNs expire. UploadData's offset must equal the bytes received.
  // Chunks arrive raw (compression waits for the commit, or is off); when
  // an upload needs memory, its own chunks are compressed first, then the
  // store's deferred ones, and only then is anything evicted.
  // `size_hint` (0: unknown) is the upload's total size when the writer
  // knows it. If that could never fit raw (more than the limit less pinned
  // data and other uploads): with compression off it fails here with
  // kNoSpace; with compression on it goes ahead but evicts nothing, so it
  // fits only if it compresses into free memory, and a value that does not
  // fails with kNoSpace having evicted nothing.
  Result<uint64_t> UploadBegin(std::string_view id, bool append, const WriteOptions& opt,
                               uint64_t size_hint = 0);
  Status UploadData(uint64_t handle, uint64_t offset,
                    const std::vector<std::string_view>& parts);
  Result<WriteResult> UploadCommit(uint64_t handle);
  Status UploadAbort(uint64_t handle);
  // Drops uploads idle since before now_ns - kUploadIdleNs; returns how many.
  size_t ExpireUploads(int64_t now_ns);

  StoreStats Stats() const;
  // Walks every shard under its lock, one at a time.
  StoreTotals Totals() const;
  const std::string& node_id() const { return node_id_; }

 private:
  using BlobPtr = std::shared_ptr<const Blob>;
  using Piece = std::span<const ChunkRef>;  // chunks a write adds

  Shard& ShardFor(std::string_view id) const;
  size_t ShardIndex(std::string_view id) const;
  BlobPtr Lookup(std::string_view id, bool touch) const;
  Result<ReadResult> ReadRange(std::string_view id, uint64_t offset, uint64_t length,
                               uint64_t max_bytes, bool all_or_nothing);
  // Installs `next` for `id` if the current blob is still `expected`
  // (nullptr = absent). Keeps the index, LRU and accounting in step.
  bool Swap(std::string_view id, const BlobPtr& expected, BlobPtr next);
  Status CheckVersion(std::string_view id, const Blob* cur,
                      const WriteOptions& opt) const;
  // A blob that follows `old` (attributes, ctime, pin), with `version`
  // (WriteOptions::version) or the next own version.
  std::shared_ptr<Blob> NewBlob(const Blob* old, bool pinned, uint64_t version = 0);
  // Installs `piece` as the new value (or after the old one when `append`);
  // `prereserved` bytes of it are already counted in used_ (uploads).
  Result<WriteResult> Commit(std::string_view id, const WriteOptions& opt, bool append,
                             Piece piece, uint64_t prereserved);
  // Commit's common case in one shard lock (one lookup): nullopt when the
  // write needs memory freed first (compression or eviction, which take
  // other locks), and Commit's loop does it.
  std::optional<Result<WriteResult>> CommitInPlace(std::string_view id,
                                                   const WriteOptions& opt, bool append,
                                                   Piece piece, uint64_t prereserved);
  // Builds the blob that a write of `piece` over `cur` installs.
  std::shared_ptr<Blob> Assemble(std::string_view id, const Blob* cur,
                                 const WriteOptions& opt, bool append, Piece piece);
  // The chunks of `data` into `out`; a value of one chunk (most SETs) needs
  // no vector: `one` holds it and the returned piece points at it.
  Piece Split(std::string_view data, const std::shared_ptr<const void>& keep,
              ChunkRef& one, std::vector<ChunkRef>& out) const;
  // Background compression (store_compress.cc).
  // Appends `id` to the queue as written at `written_ns`. Callers hold the
  // id's shard lock and set its Entry::queued.
  void QueueCompression(std::string_view id, int64_t written_ns);
  // The blob to compress for a queued id, or nullptr (settling Entry::queued,
  // or queueing a blob younger than kCompressAfterNs again unless `force`).
  BlobPtr TakeQueued(const std::string& id, bool force);
  // `force`: compress now, however recent the write (memory pressure).
  bool CompressOne(const std::string& id, bool force);
  void CompressorLoop();
  void StopCompressor();
  // Appends `data` after `cur`'s chunks into `next`, filling a raw tail in
  // place when this caller is the only one to extend it.
  void AppendChunks(const Blob* cur, std::string_view data, Blob& next) const;
  // Removes `id` from shard `s` (locked by the caller) and the index;
  // returns the removed blob (accounting is left to the caller).
  BlobPtr EraseLocked(Shard& s, std::string_view id, bool evicted = false);
  // Installs `blob` for `id` in shard `s` (locked by the caller) in `node`,
  // the id's map node if the caller found it (else nullptr: looked up or
  // made here), so a write hashes the id once under the lock. Queues
  // deferred chunks for compression.
  // `now_ns` is the id's new access time.
  void InsertLocked(Shard& s, std::pair<const std::string, Entry>* node,
                    std::string_view id, BlobPtr blob, int64_t now_ns);

  // Memory: reserve `bytes` (counting `credit` bytes about to be freed),
  // evicting LRU ids other than `exclude` when needed.
  Status Reserve(uint64_t bytes, uint64_t credit, std::string_view exclude);
  // Reserve without compressing or evicting: false when it does not fit.
  bool TryReserve(uint64_t bytes, uint64_t credit);
  void Release(uint64_t bytes);
  bool EvictOne(std::string_view exclude);
  // The decoded cache (store_decoded.cc). The raw bytes of compressed chunk
  // `ref` of `b` (the blob `id` held when read), from the cache or
  // decompressed whole and admitted when the read of [off, off+n) would
  // decompress at least a quarter of it; an empty Slice when neither.
  Slice Decoded(std::string_view id, const BlobPtr& b, const ChunkRef& ref, uint64_t off,
                uint64_t n);
  // Charges and inserts `bytes` as `chunk`'s raw bytes, for the current blob
  // of the entry `e` (whose shard lock the caller holds). `probation`:
  // admitted without a read; then it neither shrinks the cache's read
  // entries nor takes memory a write would need.
  void AdmitLocked(Entry& e, const std::shared_ptr<Chunk>& chunk, Slice bytes,
                   bool probation);
  // Drops the cache's entries for `e`'s blob (caller holds its shard lock).
  void ForgetDecodedLocked(Entry& e);
  void EvictDownToLimit();
  // kNoSpace for a write that needs `needed` bytes more than it got;
  // `own_upload`: what the failing upload holds already. Says "cannot hold"
  // when not even evicting every unpinned id would make room, else "is full".
  Status NoSpace(uint64_t needed, uint64_t own_upload = 0) const;

  std::shared_ptr<Upload> FindUpload(uint64_t handle) const;
  Status FlushUploadTail(Upload& u, bool final);
  // Reserves `bytes` for `u` (see UploadBegin for the order). Caller holds u.mu.
  Status ReserveForUpload(Upload& u, uint64_t bytes);
  // Compresses the oldest of u's chunks still waiting for compression and
  // gives back what it saved; false when none is left. Caller holds u.mu.
  bool CompressUploadChunk(Upload& u);
  // Removes an open upload from the table; NotFound names the handle.
  Result<std::shared_ptr<Upload>> TakeUpload(uint64_t handle);
  // Gives back the memory `u` reserved. Caller holds u.mu.
  void ReleaseUpload(Upload& u);

  const std::string node_id_;
  mutable std::mutex config_mu_;
  WorkerConfig config_;  // guarded by config_mu_
  std::atomic<uint64_t> limit_;
  std::atomic<int> level_;
  std::atomic<uint64_t> chunk_size_;
  std::atomic<bool> eviction_;

  std::atomic<uint64_t> used_{0};
  std::atomic<int64_t> transit_{0};
  std::atomic<uint64_t> pinned_bytes_{0};
  std::atomic<uint64_t> upload_bytes_{0};
  std::atomic<uint64_t> evictions_{0};
  std::atomic<uint64_t> evicted_bytes_{0};
  std::atomic<uint64_t> ids_{0};
  std::atomic<uint64_t> pointers_{0};
  std::atomic<uint64_t> next_version_;
  ChangeHook change_hook_;
  mutable std::atomic<uint64_t> lru_tick_{1};

  std::unique_ptr<Shard[]> shards_;
  std::unique_ptr<SpreadPool> spread_;  // before codecs_, which points at it
  std::unique_ptr<CodecPool> codecs_;
  std::unique_ptr<DecodedCache> decoded_;

  mutable std::mutex index_mu_;               // after any Shard::mu
  std::set<std::string, std::less<>> index_;  // every stored id, sorted

  std::atomic<bool> defer_{false};
  std::mutex bg_mu_;  // a leaf lock: nothing else is taken while held
  std::condition_variable bg_cv_;
  // Ids with deferred chunks and when they were queued; guarded by bg_mu_.
  std::deque<std::pair<int64_t, std::string>> bg_queue_;
  bool bg_stop_ = false;   // guarded by bg_mu_
  std::thread bg_thread_;  // started by CompressInBackground(true)

  mutable std::mutex uploads_mu_;  // never held with a shard lock
  std::unordered_map<uint64_t, std::shared_ptr<Upload>> uploads_;
  uint64_t next_upload_;  // guarded by uploads_mu_
};

}  // namespace shovel::worker
