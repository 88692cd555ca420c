// Pacer: holds a stream of copies (hand-over, drain) to a rate in bytes per
// second. Each copy is due its bytes' worth of time after the one before;
// owed time carries over, so the rate holds on average. A pacer that falls
// more than kMaxLag behind (slow copies, a stall) starts again from now
// instead of sending a burst to catch up. The rate is given on each call,
// so a live change applies from the next copy.
//
// Pure: the caller passes the time and does the waiting. Thread-safety: none;
// one pacer per copying thread.
#pragma once

#include <chrono>
#include <cstdint>

namespace shovel::worker {

class Pacer {
 public:
  using Clock = std::chrono::steady_clock;
  // How far behind the pacer may fall and still catch up at once.
  static constexpr std::chrono::milliseconds kMaxLag{100};

  explicit Pacer(Clock::time_point start) : due_(start) {}

  // Records a copy of `bytes` at `bytes_per_second` (0 counts as 1) made at
  // `now`; returns when the next copy may start: a time after `now` to wait
  // for, or at most `now` when it may start at once.
  Clock::time_point Sent(uint64_t bytes, uint64_t bytes_per_second,
                         Clock::time_point now);

 private:
  Clock::time_point due_;
};

}  // namespace shovel::worker
