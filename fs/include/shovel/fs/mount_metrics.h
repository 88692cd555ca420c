// What a mount did, for operators: FUSE operations by type with latency
// histograms, bytes read and written, page-cache keeps and drops at open,
// and errors by errno. shovelfs -o metrics=HOST:PORT serves them in the
// Prometheus text format (docs/operations.md lists every metric).
//
// MountMetrics is bumped by the FUSE threads (fuse_ops.cc) with relaxed
// atomics: no lock and no allocation on any request. Sample() reads each
// counter on its own, so counters read together may be a few requests
// apart, as any scrape of a live process. Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shovel::fs {

enum class FuseOp : uint8_t {
  kLookup,
  kForget,
  kGetattr,
  kSetattr,
  kMkdir,
  kRmdir,
  kUnlink,
  kRename,
  kLink,
  kSymlink,
  kReadlink,
  kMknod,
  kCreate,
  kOpen,
  kRead,
  kWrite,
  kFlush,
  kRelease,
  kFsync,
  kOpendir,
  kReaddir,
  kReleasedir,
  kStatfs,
  kGetxattr,
  kListxattr,
  kSetxattr,
  kRemovexattr,
  kLseek,
  kFallocate,
};
inline constexpr size_t kFuseOps = static_cast<size_t>(FuseOp::kFallocate) + 1;

// "lookup", "read", ...: the `op` label.
std::string_view FuseOpName(FuseOp op);
// "EIO", "ENOENT", ...: the `errno` label ("E<number>" for one glibc does
// not name).
std::string ErrnoName(int e);

// Upper bounds (seconds) of the latency buckets; +Inf follows.
inline constexpr std::array<double, 14> kFuseLatencyBuckets = {
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
    0.0025,  0.005,    0.01,    0.025,  0.1,     0.5,    2.5};

struct FuseOpSample {
  uint64_t count = 0;
  uint64_t sum_ns = 0;
  std::array<uint64_t, kFuseLatencyBuckets.size() + 1> buckets{};  // not cumulative
};

struct MountSample {
  std::array<FuseOpSample, kFuseOps> ops;
  uint64_t read_bytes = 0, written_bytes = 0;
  uint64_t cache_kept = 0, cache_dropped = 0;    // opens of files
  std::vector<std::pair<int, uint64_t>> errors;  // errno -> replies, ascending
};

class MountMetrics {
 public:
  static constexpr int kMaxErrno = 160;  // larger ones are counted as kMaxErrno

  // One request of `op`, from its callback's start to its reply.
  void RecordOp(FuseOp op, std::chrono::nanoseconds took);
  // A reply with error `e` (a positive errno).
  void RecordError(int e);
  void AddRead(uint64_t n) { read_bytes_.fetch_add(n, std::memory_order_relaxed); }
  void AddWritten(uint64_t n) { written_bytes_.fetch_add(n, std::memory_order_relaxed); }
  // An open kept the kernel's cached pages (the blob's version did not
  // change) or dropped them.
  void OpenKept(bool kept) {
    (kept ? cache_kept_ : cache_dropped_).fetch_add(1, std::memory_order_relaxed);
  }

  MountSample Sample() const;

 private:
  struct Op {
    std::array<std::atomic<uint64_t>, kFuseLatencyBuckets.size() + 1> buckets{};
    std::atomic<uint64_t> sum_ns{0};
  };
  std::array<Op, kFuseOps> ops_;
  std::array<std::atomic<uint64_t>, kMaxErrno + 1> errors_{};
  std::atomic<uint64_t> read_bytes_{0}, written_bytes_{0};
  std::atomic<uint64_t> cache_kept_{0}, cache_dropped_{0};
};

}  // namespace shovel::fs
