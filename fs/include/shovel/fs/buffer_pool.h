// BufferPool: reusable byte buffers for read-ahead blocks.
//
// Reading a large file fills one multi-MiB block after another; a fresh
// allocation per block touches fresh pages, which costs far more than
// writing into memory that was used before. Take hands out an
// empty string with its capacity reserved (a returned one when available);
// the string goes back to the pool when the last shared_ptr to it drops.
// At most `max_free` buffers are kept idle.
//
// Thread-safe. Buffers may outlive the BufferPool object (the shared state
// they return to is reference-counted).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace shovel::fs {

class BufferPool {
 public:
  explicit BufferPool(size_t max_free = 16);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // An empty buffer with at least `capacity` bytes reserved.
  std::shared_ptr<std::string> Take(size_t capacity);
  size_t idle() const;

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

}  // namespace shovel::fs
