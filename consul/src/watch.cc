#include "shovel/consul/watch.h"

#include <algorithm>

namespace shovel::consul {

IndexStep NextIndex(uint64_t previous, uint64_t returned) {
  IndexStep step;
  if (returned < previous) {
    step.next_index = 0;  // went backwards: restart the loop
    step.changed = true;
  } else {
    step.next_index = returned;
    step.changed = returned != previous;
  }
  step.next_index = std::max<uint64_t>(step.next_index, 1);
  return step;
}

Watch::Watch(Query query, OnChange on_change, OnError on_error, WatchOptions options)
    : query_(std::move(query)),
      on_change_(std::move(on_change)),
      on_error_(std::move(on_error)),
      options_(options) {}

Watch::~Watch() { Stop(); }

void Watch::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void Watch::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cancel_.Cancel();
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id())
    thread_.join();
}

bool Watch::SleepUntil(std::chrono::steady_clock::time_point until) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, until, [this] { return stopping_; });
  return !stopping_;
}

void Watch::Run() {
  using Clock = std::chrono::steady_clock;
  uint64_t index = 0;
  bool first = true;
  int failures = 0;
  Clock::time_point next_start = Clock::now();
  for (;;) {
    if (!SleepUntil(next_start)) return;
    next_start = Clock::now() + options_.min_interval;
    QueryOptions query;
    query.index = index;
    query.wait = options_.wait;
    query.cancel = &cancel_;
    Result<uint64_t> returned = query_(query);
    if (cancel_.cancelled()) return;
    if (!returned.ok()) {
      ++failures;
      if (on_error_) on_error_(returned.status());
      std::chrono::milliseconds backoff =
          options_.backoff_initial * (int64_t{1} << std::min(failures - 1, 20));
      backoff = std::min(backoff, options_.backoff_max);
      Clock::time_point retry_at = Clock::now() + backoff;
      if (retry_at > next_start) next_start = retry_at;
      continue;
    }
    failures = 0;
    IndexStep step = NextIndex(index, *returned);
    index = step.next_index;
    if (step.changed || first) {
      first = false;
      on_change_(*returned);
    }
  }
}

}  // namespace shovel::consul
