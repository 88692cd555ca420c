#include "chunk.h"

#include <time.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <new>

#include "spread_pool.h"

namespace shovel::worker {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t CoarseNowNs() {
#ifdef CLOCK_REALTIME_COARSE
  timespec ts;
  if (clock_gettime(CLOCK_REALTIME_COARSE, &ts) == 0) {
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  }
#endif
  return NowNs();
}

void Blob::AddChunk(ChunkRef ref) {
  ref.start = size;
  size += ref.len;
  stored += ref.chunk->stored_size;
  chunks.push_back(std::move(ref));
}

void Blob::Recharge(size_t id_bytes) {
  charged = stored + kBlobOverhead + 2 * id_bytes + chunks.size() * kChunkOverhead;
}

namespace {

Buffer Alloc(size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return Buffer(static_cast<char*>(p));
}

std::shared_ptr<Chunk> RawChunk(std::string_view raw,
                                const std::shared_ptr<const void>& keep = nullptr) {
  auto c = std::make_shared<Chunk>();
  if (keep && !raw.empty()) {
    c->borrowed = keep;
    c->view = raw.data();
  } else {
    c->data = Alloc(raw.size());
    if (!raw.empty()) std::memcpy(c->data.get(), raw.data(), raw.size());
  }
  c->raw_size = c->stored_size = static_cast<uint32_t>(raw.size());
  // Relaxed: the chunk is not shared yet (a blob publishes it under a shard
  // lock); a seq_cst store here was an xchg that drained the copy above.
  c->claimed.store(c->raw_size, std::memory_order_relaxed);
  return c;
}

// Compression pays when it saves at least 1/16 of the input.
bool Pays(size_t in, size_t out) { return out + in / 16 < in; }

// A cheap incompressibility test that costs no zstd pass: the collision
// entropy (-log2 of the sum of p^2 over byte values) of up to kSampleBytes
// sampled bytes. Above 7 bits per byte the bytes are spread almost uniformly
// (random, encrypted or already compressed data: random bytes measure ~8,
// text ~4); such a chunk is stored raw. Repetitive data whose bytes are
// uniformly spread is missed; that trade buys small sets that do not pay a
// zstd pass each.
// The sum of c(c-1) estimates n(n-1) sum p^2 without bias, so the 7-bit line
// does not move with the sample size: a value of at most kSampleBytes is
// sampled at kSmallSample evenly spaced bytes (counting is most of the cost
// of a 1 KiB SET), a larger one in kSampleRun-byte runs spread over it.
constexpr size_t kSampleBytes = 4096;
constexpr size_t kSampleRun = 256;
constexpr size_t kSmallSample = 256;

// Counts sampled bytes and keeps sum c(c-1)/2 as it goes (it grows by c
// when a count c goes up). Callers check the verdict every kCheck samples,
// so data that is clearly compressible stops after a few dozen samples: the
// verdict is the same as counting every sample, since the sum only grows.
// Checking once per unrolled block (not per sample) and a byte-wide table
// (256 B to zero, not 512) took a 1 KiB probe from ~175 ns to ~100 ns.
constexpr size_t kCheck = 16;

template <typename Count>
class ByteSpread {
 public:
  explicit ByteSpread(uint64_t samples) : limit_(samples * (samples - 1)) {}
  void Add(unsigned char b) {
    pairs_ += count_[b];
    ++count_[b];
  }
  bool Incompressible() const { return pairs_ * 256 < limit_; }

 private:
  uint64_t limit_;  // sum p^2 < 2^-7  <=>  sum c(c-1)/2 * 256 < n(n-1)
  uint64_t pairs_ = 0;
  Count count_[256] = {};
};

// Up to kSmallSample samples fit byte-wide counts: while the verdict is
// still "incompressible", c(c-1)/2 * 256 < 256 * 255 holds for every count
// (c <= 23), and at most kCheck samples are added before the next check.
static_assert(23 + kCheck < 256);
using SmallSpread = ByteSpread<uint8_t>;
// kSampleBytes samples: c(c-1)/2 * 256 < 4096 * 4095 gives c <= 362.
static_assert(kSampleBytes <= UINT16_MAX);
using LargeSpread = ByteSpread<uint16_t>;

bool LooksIncompressible(std::string_view raw) {
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  uint64_t n = raw.size();
  if (n <= kSmallSample) {
    SmallSpread s(n);
    size_t i = 0;
    for (; i + kCheck <= n; i += kCheck) {
#pragma GCC unroll 16
      for (size_t j = 0; j < kCheck; ++j) s.Add(p[i + j]);
      if (!s.Incompressible()) return false;
    }
    for (; i < n; ++i) s.Add(p[i]);
    return s.Incompressible();
  }
  if (n <= kSampleBytes) {
    // Sample i is byte i * n / kSmallSample; `pos` is i * n.
    SmallSpread s(kSmallSample);
    uint64_t pos = 0;
    for (size_t i = 0; i < kSmallSample; i += kCheck) {
#pragma GCC unroll 16
      for (size_t j = 0; j < kCheck; ++j, pos += n) s.Add(p[pos / kSmallSample]);
      if (!s.Incompressible()) return false;
    }
    return s.Incompressible();
  }
  constexpr size_t kRuns = kSampleBytes / kSampleRun;
  static_assert(kSampleRun % kCheck == 0);
  uint64_t step = (n - kSampleRun) / (kRuns - 1);
  LargeSpread s(kSampleBytes);
  for (size_t r = 0; r < kRuns; ++r) {
    const unsigned char* run = p + r * step;
    for (size_t i = 0; i < kSampleRun; i += kCheck) {
#pragma GCC unroll 16
      for (size_t j = 0; j < kCheck; ++j) s.Add(run[i + j]);
      if (!s.Incompressible()) return false;
    }
  }
  return s.Incompressible();
}

// One decompression context per thread, made on first use and freed when
// the thread ends: a compressed read takes no lock for it (a pool cost two
// mutex round trips per GET of a small compressed value).
ZSTD_DCtx* ThreadDCtx() {
  struct Holder {
    ZSTD_DCtx* d = ZSTD_createDCtx();
    ~Holder() { ZSTD_freeDCtx(d); }
  };
  thread_local Holder h;
  return h.d;
}

}  // namespace

CodecPool::~CodecPool() {
  for (auto* c : cctx_) ZSTD_freeCCtx(c);
}

ZSTD_CCtx* CodecPool::TakeC() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!cctx_.empty()) {
      auto* c = cctx_.back();
      cctx_.pop_back();
      return c;
    }
  }
  return ZSTD_createCCtx();
}
void CodecPool::GiveC(ZSTD_CCtx* c) {
  std::lock_guard<std::mutex> l(mu_);
  cctx_.push_back(c);
}
std::shared_ptr<Chunk> CodecPool::Make(std::string_view raw, int level,
                                       const MakeOptions& o) {
  if (level <= 0 || raw.size() < 64 || LooksIncompressible(raw)) {
    return RawChunk(raw, o.keep);
  }
  if (!o.defer) {
    auto c = Compress(raw, level);
    if (c->compressed || !o.keep) return c;
    return RawChunk(raw, o.keep);  // did not pay: borrow rather than keep a copy
  }
  auto c = RawChunk(raw, o.keep);
  c->deferred.store(true, std::memory_order_relaxed);  // not shared yet
  return c;
}

std::shared_ptr<Chunk> CodecPool::Compress(std::string_view raw, int level) {
  if (level <= 0 || raw.size() < 64 || LooksIncompressible(raw)) return RawChunk(raw);
  ZSTD_CCtx* cctx = TakeC();
  size_t n;
  if (raw.size() > 2 * kProbeBytes) {
    // Probe: if the first bytes do not shrink, the rest is not tried.
    char probe[ZSTD_COMPRESSBOUND(kProbeBytes)];
    n = ZSTD_compressCCtx(cctx, probe, sizeof probe, raw.data(), kProbeBytes, level);
    if (ZSTD_isError(n) || !Pays(kProbeBytes, n)) {
      GiveC(cctx);
      return RawChunk(raw);
    }
  }
  // Compress into a buffer just smaller than the input: if it does not fit,
  // compression did not pay. One frame per kFrameBytes of input.
  size_t cap = raw.size() - raw.size() / 16;
  Buffer out = Alloc(cap);
  std::vector<uint32_t> ends;
  n = 0;
  for (size_t at = 0; at < raw.size(); at += kFrameBytes) {
    size_t len = std::min(kFrameBytes, raw.size() - at);
    size_t r =
        ZSTD_compressCCtx(cctx, out.get() + n, cap - n, raw.data() + at, len, level);
    if (ZSTD_isError(r)) {
      n = r;
      break;
    }
    n += r;
    if (raw.size() > kFrameBytes) ends.push_back(static_cast<uint32_t>(n));
  }
  GiveC(cctx);
  if (ZSTD_isError(n)) return RawChunk(raw);
  // Shrinking in place: glibc splits the block, nothing is copied.
  char* shrunk = static_cast<char*>(std::realloc(out.get(), n == 0 ? 1 : n));
  if (shrunk != nullptr) {
    (void)out.release();  // realloc took the old block; `shrunk` is it now
    out.reset(shrunk);
  }
  auto c = std::make_shared<Chunk>();
  c->data = std::move(out);
  c->raw_size = static_cast<uint32_t>(raw.size());
  c->claimed.store(c->raw_size, std::memory_order_relaxed);  // not shared yet
  c->stored_size = static_cast<uint32_t>(n);
  c->compressed = true;
  c->frame_ends = std::move(ends);
  return c;
}

std::shared_ptr<Chunk> CodecPool::Growable(std::string_view raw, size_t capacity) {
  auto c = std::make_shared<Chunk>();
  c->data = Alloc(capacity);
  if (!raw.empty()) std::memcpy(c->data.get(), raw.data(), raw.size());
  c->raw_size = static_cast<uint32_t>(capacity);
  c->stored_size = static_cast<uint32_t>(capacity);
  c->claimed.store(static_cast<uint32_t>(raw.size()), std::memory_order_relaxed);
  c->growable = true;
  return c;
}

Status CodecPool::Read(const Chunk& c, uint32_t off, uint32_t n, char* out) {
  if (n == 0) return Status::Ok();
  if (!c.compressed) {
    std::memcpy(out, c.bytes() + off, n);
    return Status::Ok();
  }
  if (!c.frame_ends.empty()) return ReadFrames(c, off, n, out);
  ZSTD_DCtx* d = ThreadDCtx();
  size_t r;
  if (off == 0 && n == c.raw_size) {
    r = ZSTD_decompressDCtx(d, out, n, c.bytes(), c.stored_size);
    if (ZSTD_isError(r) || r != n) {
      return Status::Corruption("a stored chunk failed to decompress");
    }
    return Status::Ok();
  }
  // A part of a one-frame chunk: stream and stop once the range is out.
  ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
  ZSTD_inBuffer in{c.bytes(), c.stored_size, 0};
  char tmp[64 << 10];
  uint64_t pos = 0;
  uint64_t end = static_cast<uint64_t>(off) + n;
  Status st;
  while (pos < end) {
    ZSTD_outBuffer o{tmp, sizeof tmp, 0};
    r = ZSTD_decompressStream(d, &o, &in);
    if (ZSTD_isError(r) || (o.pos == 0 && (r == 0 || in.pos == in.size))) {
      st = Status::Corruption("a stored chunk failed to decompress");
      break;
    }
    uint64_t lo = std::max<uint64_t>(pos, off);
    uint64_t hi = std::min<uint64_t>(pos + o.pos, end);
    if (lo < hi) std::memcpy(out + (lo - off), tmp + (lo - pos), hi - lo);
    pos += o.pos;
  }
  return st;
}

namespace {

// Decompresses frame `i` of `c` and writes the part of it in raw
// [off, end) to `out` (which holds raw byte `off` at out[0]). A frame the
// range covers whole goes straight to `out`. False when the frame is
// damaged.
bool ReadFrame(const Chunk& c, size_t i, uint64_t off, uint64_t end, char* out) {
  const uint64_t raw_at = i * kFrameBytes;
  const size_t raw_len = std::min<uint64_t>(kFrameBytes, c.raw_size - raw_at);
  const uint32_t from = i == 0 ? 0 : c.frame_ends[i - 1];
  const uint32_t to = c.frame_ends[i];
  if (to < from || to > c.stored_size) return false;
  const uint64_t lo = std::max<uint64_t>(raw_at, off);
  const uint64_t hi = std::min<uint64_t>(raw_at + raw_len, end);
  ZSTD_DCtx* d = ThreadDCtx();
  if (lo == raw_at && hi == raw_at + raw_len) {
    size_t r =
        ZSTD_decompressDCtx(d, out + (lo - off), raw_len, c.bytes() + from, to - from);
    return !ZSTD_isError(r) && r == raw_len;
  }
  char tmp[kFrameBytes];
  size_t r = ZSTD_decompressDCtx(d, tmp, raw_len, c.bytes() + from, to - from);
  if (ZSTD_isError(r) || r != raw_len) return false;
  std::memcpy(out + (lo - off), tmp + (lo - raw_at), hi - lo);
  return true;
}

}  // namespace

Status CodecPool::ReadFrames(const Chunk& c, uint32_t off, uint32_t n, char* out) {
  const uint64_t end = static_cast<uint64_t>(off) + n;
  const size_t first = off / kFrameBytes;
  const size_t last = std::min<size_t>(c.frame_ends.size(),
                                       static_cast<size_t>((end - 1) / kFrameBytes + 1));
  if (last <= first) return Status::Corruption("a stored chunk's frame index is damaged");
  SpreadPool* pool = spread_.load(std::memory_order_acquire);
  if (pool == nullptr || pool->helpers() == 0 || last - first < kSpreadMinFrames) {
    for (size_t i = first; i < last; ++i) {
      if (!ReadFrame(c, i, off, end, out)) {
        return Status::Corruption("a stored chunk failed to decompress");
      }
    }
    return Status::Ok();
  }
  std::atomic<bool> damaged{false};
  pool->Run(last - first, [&](size_t k) {
    if (!ReadFrame(c, first + k, off, end, out)) {
      damaged.store(true, std::memory_order_relaxed);
    }
  });
  if (damaged.load(std::memory_order_relaxed)) {
    return Status::Corruption("a stored chunk failed to decompress");
  }
  return Status::Ok();
}

}  // namespace shovel::worker
