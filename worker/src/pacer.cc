#include "pacer.h"

#include <algorithm>

namespace shovel::worker {

Pacer::Clock::time_point Pacer::Sent(uint64_t bytes, uint64_t bytes_per_second,
                                     Clock::time_point now) {
  due_ += std::chrono::microseconds(bytes * 1000000 /
                                    std::max<uint64_t>(1, bytes_per_second));
  if (due_ < now && now - due_ > kMaxLag) due_ = now;  // no burst after a slow stretch
  return due_;
}

}  // namespace shovel::worker
