// ReadAhead: how far ahead of a read one open file should have fetched, in
// the manner of the kernel's on-demand read-ahead. A read that continues the
// previous ones (sequential) opens a window of `initial` bytes, and each
// further sequential read doubles it up to `max`; any other read (random
// access) closes it, so a random read fetches only what it reads.
//
// FUSE delivers the kernel's own read-ahead requests on several threads, so
// they can arrive out of order: a read that starts within `reorder` bytes
// of where the previous reads ended still counts as sequential.
//
// A plain value type: not thread-safe (the owning FileHandle's mutex guards
// it). Pure: no I/O.
#pragma once

#include <cstdint>

namespace shovel::fs {

class ReadAhead {
 public:
  struct Limits {
    uint64_t initial = 128ull << 10;
    uint64_t max = 8ull << 20;
    uint64_t reorder = 2ull << 20;
  };

  explicit ReadAhead(Limits limits) : limits_(limits) {}

  // Records a read of [off, off + size) and returns the window: how many
  // bytes past its end should be fetched or in flight (0: none).
  uint64_t OnRead(uint64_t off, uint64_t size);

  uint64_t window() const { return window_; }

 private:
  Limits limits_;
  uint64_t next_ = 0;    // the end of the sequential run so far
  uint64_t window_ = 0;  // 0: not sequential
};

}  // namespace shovel::fs
