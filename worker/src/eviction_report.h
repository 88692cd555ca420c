// EvictionReport: turns the store's eviction counters, sampled now and
// then, into at most one log line a minute: "memory pressure: N ids (SIZE)
// evicted in the last T ...", so a worker that is too small for its data
// says so without a line per eviction. The first evictions are reported at
// once. Pure and not thread-safe: one caller samples it (shovel-worker's
// main thread, once a second).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

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

}  // namespace shovel::worker
