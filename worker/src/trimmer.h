// Trimmer: gives freed heap memory back to the kernel. The worker keeps
// large buffers warm (shovel/alloc.h: glibc trims nothing under 512 MiB), and
// memory freed in one thread's arena is not reused by another's, so after a
// burst (replies dropped, 1 MiB values evicted for 1 KiB ones) resident
// memory stayed far above what the worker holds. Every 250 ms a thread
// compares the process's RSS with what the worker accounts for and calls
// malloc_trim(0) when the difference is large.
//
// Thread-safety: Start/Stop from the owner; `held` is called on the
// trimmer's thread and must be thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace shovel::worker {

// Makes every thread allocate from glibc's main arena. malloc_trim gives
// back the top of the main heap but never the top of another arena's heap
// (and KeepLargeBuffersWarm's 512 MiB threshold keeps free() from doing
// it): replies decompressed on handler threads stayed resident after a slow
// reader was closed (98 MiB for 1 MiB stored at --max-memory 64MiB; 14 MiB
// with one arena). glibc's per-thread cache still serves small blocks
// without the arena lock. For the shovel-worker process only (main.cc);
// MALLOC_ARENA_MAX in the environment (glibc's own setting) wins.
void UseOneMallocArena();

// Trim when resident memory exceeds what is held by more than a quarter of
// it plus 32 MiB (the bound the worker promises is 1.25x + 64 MiB).
bool ShouldTrim(uint64_t rss, uint64_t held);

// The calling process's resident memory in bytes (0 if unknown).
uint64_t SelfRss();

class Trimmer {
 public:
  explicit Trimmer(std::function<uint64_t()> held) : held_(std::move(held)) {}
  ~Trimmer() { Stop(); }
  void Start();
  void Stop();
  uint64_t trims() const { return trims_; }

 private:
  void Loop();
  std::function<uint64_t()> held_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::atomic<uint64_t> trims_{0};
  std::thread thread_;
};

}  // namespace shovel::worker
