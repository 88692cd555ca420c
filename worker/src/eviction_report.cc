#include "eviction_report.h"

#include "shovel/size.h"

namespace shovel::worker {

std::optional<std::string> EvictionReport::Observe(uint64_t evictions,
                                                   uint64_t evicted_bytes,
                                                   uint64_t mem_used, uint64_t mem_limit,
                                                   Clock::time_point now) {
  if (!started_) {  // counts from before the first sample are reported too
    started_ = true;
    since_ = now;
  }
  if (evictions <= evictions_) return std::nullopt;
  if (last_line_ && now - *last_line_ < kEvery) return std::nullopt;
  const uint64_t n = evictions - evictions_;
  const uint64_t bytes = evicted_bytes - evicted_bytes_;
  const auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(now - since_).count();
  std::string line =
      "memory pressure: " + std::to_string(n) + (n == 1 ? " id (" : " ids (") +
      FormatSize(bytes) + ") evicted in the last " + std::to_string(secs) +
      "s to make room; memory used " + FormatSize(mem_used) + " of " +
      FormatSize(mem_limit) + " (raise max-memory or add workers to keep more)";
  evictions_ = evictions;
  evicted_bytes_ = evicted_bytes;
  last_line_ = now;
  since_ = now;
  return line;
}

void EvictionWatch::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (thread_.joinable() || !log_) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void EvictionWatch::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EvictionWatch::Loop() {
  // The first sample at once: "in the last Ns" counts from the start.
  std::unique_lock<std::mutex> l(mu_);
  do {
    l.unlock();
    const WorkerSample s = sample_();
    auto line = report_.Observe(s.evictions, s.evicted_bytes, s.mem_used, s.mem_limit,
                                EvictionReport::Clock::now());
    if (line) log_(shovel::log::Level::kWarn, *line);
    l.lock();
  } while (!cv_.wait_for(l, std::chrono::seconds(1), [this] { return stop_; }));
}

}  // namespace shovel::worker
