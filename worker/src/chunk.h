// Chunks and blobs, the store's internal representation, and the zstd codec.
//
// A Chunk is immutable once published, with one exception: a raw "growable"
// tail chunk (made by APPEND) has spare capacity; an appender may write past
// every published length after winning `claimed` with a CAS, so bytes a
// reader can see never change. A raw chunk may borrow its bytes from a
// received frame (`borrowed` keeps them alive) instead of copying them; a
// "deferred" raw chunk is compressible data stored raw on the write path and
// left for the store's background compressor to replace. A Blob is an immutable snapshot:
// a list of (chunk, visible length) plus metadata, shared by readers via shared_ptr.
//
// CodecPool hands out zstd contexts; thread-safe (one mutex, held only to pop
// or push a compression context; each thread has its own decompression
// context). With a SpreadPool (set_spread), a read of several frames
// decompresses them on the calling thread and on idle helper threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "shovel/protocol.h"
#include "shovel/status.h"

struct ZSTD_CCtx_s;

namespace shovel::worker {

class SpreadPool;

inline constexpr uint64_t kChunkOverhead = 96;   // Chunk + control block + ref
inline constexpr uint64_t kBlobOverhead = 320;   // Blob, map node, LRU, index
inline constexpr size_t kProbeBytes = 32 << 10;  // compression probe
// A compressed chunk larger than this is stored as independent zstd frames
// of kFrameBytes raw bytes each (the last one shorter), so a range read
// decompresses at most the frames it touches, never the chunk up to the
// offset. The size trades ratio against that bound; docs/performance.md
// gives the measurement it was chosen from.
inline constexpr size_t kFrameBytes = 32 << 10;
// A read spreads its frames over the SpreadPool from this many frames on
// (256 KiB); fewer run on the caller (a helper's wake-up costs about what
// two frames do).
inline constexpr size_t kSpreadMinFrames = 8;

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<char, FreeDeleter>;

struct Chunk {
  Buffer data;                           // owned bytes, or null if borrowed
  std::shared_ptr<const void> borrowed;  // keeps `view`'s bytes alive
  const char* view = nullptr;            // borrowed bytes (never written)
  uint32_t raw_size = 0;                 // raw bytes (for a growable tail: see claimed)
  uint32_t stored_size = 0;              // bytes held (capacity for a growable tail)
  bool compressed = false;
  bool growable = false;
  // Compressed, more than one frame: where frame i's compressed bytes end
  // (frame i holds raw bytes [i * kFrameBytes, (i + 1) * kFrameBytes)).
  // Empty: one frame. The bytes are concatenated frames either way, so a
  // whole-chunk decompression needs no index.
  std::vector<uint32_t> frame_ends;
  std::atomic<uint32_t> claimed{0};   // growable: bytes written so far
  std::atomic<bool> deferred{false};  // raw, waiting for background compression

  const char* bytes() const { return data ? data.get() : view; }
};

struct ChunkRef {
  std::shared_ptr<Chunk> chunk;
  uint32_t len = 0;    // raw bytes visible in this snapshot
  uint64_t start = 0;  // raw offset in the blob (set by Blob::AddChunk)
};

struct Blob {
  // In blob order; each one's `start` says where it begins (no second
  // vector of offsets: one allocation less per write).
  std::vector<ChunkRef> chunks;
  uint64_t size = 0;
  uint64_t stored = 0;   // sum of stored_size
  uint64_t charged = 0;  // stored + overhead: what used_ counts for it
  uint64_t version = 0;
  int64_t ctime_ns = 0;
  int64_t mtime_ns = 0;
  bool pinned = false;
  wire::Attrs attrs;

  void AddChunk(ChunkRef ref);
  void Recharge(size_t id_bytes);
};

class CodecPool {
 public:
  CodecPool() = default;
  ~CodecPool();
  CodecPool(const CodecPool&) = delete;
  CodecPool& operator=(const CodecPool&) = delete;

  // Compresses `raw` (level 0 = raw). Kept raw when sampled bytes look
  // uniformly spread (no zstd pass at all), or when a probe of the first
  // kProbeBytes or the whole chunk does not shrink by at least 1/16.
  std::shared_ptr<Chunk> Compress(std::string_view raw, int level);
  // How a chunk is made on the write path. `keep`, when set, keeps `raw`
  // alive and unchanged: a chunk stored raw borrows those bytes (no copy).
  // `defer`: data that looks compressible is stored raw and marked deferred
  // instead of compressed now.
  struct MakeOptions {
    std::shared_ptr<const void> keep;
    bool defer = false;
  };
  std::shared_ptr<Chunk> Make(std::string_view raw, int level, const MakeOptions& o);
  // A raw chunk with `capacity` >= raw.size() bytes of room.
  static std::shared_ptr<Chunk> Growable(std::string_view raw, size_t capacity);
  // Writes raw bytes [off, off+n) of `c` (n <= visible len) to `out`. A
  // compressed chunk decompresses only the frames that hold the range.
  Status Read(const Chunk& c, uint32_t off, uint32_t n, char* out);
  // Reads of kSpreadMinFrames frames or more run their frames on `pool`
  // too (null: on the caller only). Set before reads start; `pool` must
  // outlive them.
  void set_spread(SpreadPool* pool) { spread_.store(pool, std::memory_order_release); }

 private:
  Status ReadFrames(const Chunk& c, uint32_t off, uint32_t n, char* out);
  ZSTD_CCtx_s* TakeC();
  void GiveC(ZSTD_CCtx_s* c);

  std::mutex mu_;
  std::vector<ZSTD_CCtx_s*> cctx_;  // guarded by mu_
  std::atomic<SpreadPool*> spread_{nullptr};
};

// Wall-clock time in ns.
int64_t NowNs();
// Wall-clock time at the kernel tick's resolution (a few ms): what a blob's
// ctime/mtime/atime record. It reads no clock source (~4 ns, not ~25 ns), and
// a SET or GET reads it once. Like a file system's timestamps, it may lag
// NowNs() by up to one tick.
int64_t CoarseNowNs();

}  // namespace shovel::worker
