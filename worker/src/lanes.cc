#include "lanes.h"

namespace shovel::worker {

Lanes::Lanes(size_t handlers)
    : queue_(handlers, 0),
      own_(handlers, 0),
      writes_(handlers, 0),
      elsewhere_(handlers, 0),
      order_(handlers) {}

bool Lanes::AllIdle() const {
  for (int64_t q : queue_) {
    if (q != 0) return false;
  }
  return true;
}

size_t Lanes::PickForRead(size_t lane) const {
  if (writes_[lane] != 0) return lane;
  size_t best = lane;
  for (size_t h = 0; h < queue_.size(); ++h) {
    if (queue_[h] < queue_[best]) best = h;
  }
  return best;
}

void Lanes::Dispatched(size_t lane, size_t to, bool read) {
  ++queue_[to];
  ++own_[lane];
  if (!read) ++writes_[lane];
  if (read && to != lane) ++elsewhere_[lane];
  order_[to].push_back({lane, read});
}

void Lanes::Replied(size_t from) {
  if (order_[from].empty()) return;  // not ours to count (never happens)
  Entry e = order_[from].front();
  order_[from].pop_front();
  --queue_[from];
  --own_[e.lane];
  if (!e.read) --writes_[e.lane];
  if (e.read && from != e.lane) --elsewhere_[e.lane];
}

}  // namespace shovel::worker
