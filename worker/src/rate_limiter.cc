#include "rate_limiter.h"

#include <utility>

namespace shovel::worker {

std::optional<uint64_t> RateLimiter::Allow(Clock::time_point now) {
  if (!started_ || now - window_start_ >= window_) {
    started_ = true;
    window_start_ = now;
    used_ = 0;
  }
  if (used_ >= per_window_) {
    ++held_;
    return std::nullopt;
  }
  ++used_;
  return std::exchange(held_, 0);
}

uint64_t RateLimiter::Flush(Clock::time_point now) {
  if (held_ == 0 || now - window_start_ < window_) return 0;
  return std::exchange(held_, 0);
}

}  // namespace shovel::worker
