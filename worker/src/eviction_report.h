// EvictionReport: turns the store's eviction counters, sampled now and
// then, into at most one log line a minute: "memory pressure: N ids (SIZE)
// evicted in the last T ...", so a worker that is too small for its data
// says so without a line per eviction. The first evictions are reported at
// once. Pure and not thread-safe: one caller samples it (EvictionWatch's
// thread, once a second).
//
// EvictionWatch: the thread that samples it for a Worker and writes the line
// to the worker's log (WorkerOptions::log), so shovel-worker and the worker
// embedded in shovelfs both report memory pressure (docs/operations.md).
// Start/Stop from the owner; `sample` runs on the watch's thread and must
// be thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "shovel/log.h"
#include "shovel/worker/metrics.h"

namespace shovel::worker {

class EvictionReport {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kEvery{60};

  // The counters now (totals since the worker started). A line to log when
  // evictions happened since the last line and the last line is kEvery old
  // (or there was none).
  std::optional<std::string> Observe(uint64_t evictions, uint64_t evicted_bytes,
                                     uint64_t mem_used, uint64_t mem_limit,
                                     Clock::time_point now);

 private:
  bool started_ = false;
  uint64_t evictions_ = 0, evicted_bytes_ = 0;  // at the last line (or start)
  std::optional<Clock::time_point> last_line_;
  Clock::time_point since_;
};

class EvictionWatch {
 public:
  EvictionWatch(std::function<WorkerSample()> sample, shovel::log::LogFn log)
      : sample_(std::move(sample)), log_(std::move(log)) {}
  ~EvictionWatch() { Stop(); }
  EvictionWatch(const EvictionWatch&) = delete;
  EvictionWatch& operator=(const EvictionWatch&) = delete;
  void Start();
  void Stop();

 private:
  void Loop();
  std::function<WorkerSample()> sample_;
  shovel::log::LogFn log_;
  EvictionReport report_;  // used by the thread only
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace shovel::worker
