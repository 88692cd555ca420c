// SpreadPool: spreads the independent items of one call (the zstd frames of
// a chunk) over idle cores, fork-join, with the calling thread working too.
//
// Run(n, fn) calls fn(i) once for each i in [0, n) and returns when every
// call has returned. The caller claims items itself, one at a time, from a
// shared counter; helper threads that are idle claim from the same counter.
// So a call never waits for a helper to become free: with every helper busy
// (a loaded worker) the caller runs all n items, as a serial loop would, and
// the only extra cost is one queue push and pop. With idle cores, a 1 MiB
// chunk's 16 frames decompress on all of them at once.
//
// Memory: no allocation per call (the job lives on the caller's stack); the
// items write where fn says (disjoint ranges of a buffer the caller owns).
//
// Thread-safety: Run may be called from any number of threads at once; fn
// runs on the caller and on helpers concurrently, so it must be safe to call
// for different i at once. Everything fn wrote happens-before Run returns.
// fn must not throw. The destructor joins the helpers; no Run may be in
// progress then.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace shovel::worker {

class SpreadPool {
 public:
  // `helpers` threads (0: Run is a plain loop on the caller).
  explicit SpreadPool(int helpers);
  ~SpreadPool();
  SpreadPool(const SpreadPool&) = delete;
  SpreadPool& operator=(const SpreadPool&) = delete;

  void Run(size_t n, const std::function<void(size_t)>& fn);

  int helpers() const { return static_cast<int>(threads_.size()); }
  // Items run by helpers so far (the rest ran on callers); for tests and
  // metrics.
  uint64_t helped() const { return helped_.load(std::memory_order_relaxed); }

 private:
  struct Job {
    const std::function<void(size_t)>* fn = nullptr;
    size_t n = 0;
    std::atomic<size_t> next{0};
    int active = 0;  // helpers inside the job; guarded by SpreadPool::mu_
  };
  // Claims and runs items of `job` until none is left; returns how many.
  static size_t Drain(Job& job);
  void HelperLoop();

  std::mutex mu_;
  std::condition_variable work_cv_;  // a job was queued, or stopping
  std::condition_variable done_cv_;  // a helper left a job
  std::deque<Job*> jobs_;            // guarded by mu_: jobs open to helpers
  bool stop_ = false;                // guarded by mu_
  std::atomic<uint64_t> helped_{0};
  std::vector<std::thread> threads_;
};

}  // namespace shovel::worker
