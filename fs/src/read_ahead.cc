#include "shovel/fs/read_ahead.h"

#include <algorithm>

namespace shovel::fs {

uint64_t ReadAhead::OnRead(uint64_t off, uint64_t size) {
  const uint64_t lo = next_ > limits_.reorder ? next_ - limits_.reorder : 0;
  const bool sequential = off >= lo && off <= next_ + limits_.reorder;
  if (!sequential) {
    window_ = 0;
    next_ = off + size;
    return 0;
  }
  window_ = window_ == 0 ? limits_.initial : std::min(2 * window_, limits_.max);
  window_ = std::max(window_, std::min(size, limits_.max));
  next_ = std::max(next_, off + size);
  return window_;
}

}  // namespace shovel::fs
