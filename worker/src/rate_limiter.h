// RateLimiter: at most `per_window` log lines per `window` for one kind of
// event, so that a flood of failing requests cannot fill a disk. The events
// held back are counted and handed to the next line let through, which then
// says how many similar ones were suppressed. Fixed windows: a window opens
// at the first event past the previous one's end.
//
// Pure (the caller passes the time) and not thread-safe: the caller locks.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace shovel::worker {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // `per_window` of 0 lets nothing through (everything is counted).
  RateLimiter(uint32_t per_window, Clock::duration window)
      : per_window_(per_window), window_(window) {}

  // An event at `now`: nullopt when it is held back, else the number of
  // events held back since the last one let through (0 when none were).
  std::optional<uint64_t> Allow(Clock::time_point now);

  // Events held back since the last one let through.
  uint64_t held() const { return held_; }

  // Once the window they were held in has ended: the events held back
  // (then 0 again), so a flood that stops is still reported; 0 while the
  // window lasts or when none were held.
  uint64_t Flush(Clock::time_point now);

 private:
  const uint32_t per_window_;
  const Clock::duration window_;
  bool started_ = false;
  Clock::time_point window_start_;
  uint32_t used_ = 0;  // lines let through in the current window
  uint64_t held_ = 0;
};

}  // namespace shovel::worker
