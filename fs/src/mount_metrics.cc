#include "shovel/fs/mount_metrics.h"

#include <algorithm>
#include <cstring>

namespace shovel::fs {

std::string_view FuseOpName(FuseOp op) {
  static constexpr std::array<std::string_view, kFuseOps> kNames = {
      "lookup",    "forget",   "getattr",     "setattr",    "mkdir",    "rmdir",
      "unlink",    "rename",   "link",        "symlink",    "readlink", "mknod",
      "create",    "open",     "read",        "write",      "flush",    "release",
      "fsync",     "opendir",  "readdir",     "releasedir", "statfs",   "getxattr",
      "listxattr", "setxattr", "removexattr", "lseek",      "fallocate"};
  const auto i = static_cast<size_t>(op);
  return i < kNames.size() ? kNames[i] : "unknown";
}

std::string ErrnoName(int e) {
  const char* name = strerrorname_np(e);
  return name != nullptr ? std::string(name) : "E" + std::to_string(e);
}

void MountMetrics::RecordOp(FuseOp op, std::chrono::nanoseconds took) {
  const auto i = static_cast<size_t>(op);
  if (i >= kFuseOps) return;
  const double s = std::chrono::duration<double>(took).count();
  size_t b = 0;
  while (b < kFuseLatencyBuckets.size() && s > kFuseLatencyBuckets[b]) ++b;
  Op& m = ops_[i];
  m.buckets[b].fetch_add(1, std::memory_order_relaxed);
  m.sum_ns.fetch_add(static_cast<uint64_t>(std::max<int64_t>(took.count(), 0)),
                     std::memory_order_relaxed);
}

void MountMetrics::RecordError(int e) {
  if (e <= 0) return;
  errors_[static_cast<size_t>(std::min(e, kMaxErrno))].fetch_add(
      1, std::memory_order_relaxed);
}

MountSample MountMetrics::Sample() const {
  MountSample s;
  for (size_t i = 0; i < kFuseOps; ++i) {
    FuseOpSample& o = s.ops[i];
    for (size_t b = 0; b < o.buckets.size(); ++b) {
      o.buckets[b] = ops_[i].buckets[b].load(std::memory_order_relaxed);
      o.count += o.buckets[b];
    }
    o.sum_ns = ops_[i].sum_ns.load(std::memory_order_relaxed);
  }
  for (int e = 1; e <= kMaxErrno; ++e) {
    uint64_t n = errors_[static_cast<size_t>(e)].load(std::memory_order_relaxed);
    if (n != 0) s.errors.emplace_back(e, n);
  }
  s.read_bytes = read_bytes_.load(std::memory_order_relaxed);
  s.written_bytes = written_bytes_.load(std::memory_order_relaxed);
  s.cache_kept = cache_kept_.load(std::memory_order_relaxed);
  s.cache_dropped = cache_dropped_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace shovel::fs
