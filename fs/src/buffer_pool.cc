#include "shovel/fs/buffer_pool.h"

#include <mutex>
#include <vector>

namespace shovel::fs {

struct BufferPool::Shared {
  explicit Shared(size_t max) : max_free(max) {}
  const size_t max_free;
  mutable std::mutex mu;  // guards free
  std::vector<std::unique_ptr<std::string>> free;

  void Give(std::string* s) {
    std::unique_ptr<std::string> owned(s);
    owned->clear();
    std::lock_guard lock(mu);
    if (free.size() < max_free) free.push_back(std::move(owned));
  }
};

BufferPool::BufferPool(size_t max_free) : shared_(std::make_shared<Shared>(max_free)) {}

BufferPool::~BufferPool() = default;

std::shared_ptr<std::string> BufferPool::Take(size_t capacity) {
  std::unique_ptr<std::string> s;
  {
    std::lock_guard lock(shared_->mu);
    for (size_t i = shared_->free.size(); i-- > 0;) {
      if (shared_->free[i]->capacity() >= capacity) {
        s = std::move(shared_->free[i]);
        shared_->free.erase(shared_->free.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
  }
  if (!s) {
    s = std::make_unique<std::string>();
    s->reserve(capacity);
  }
  return std::shared_ptr<std::string>(
      s.release(), [shared = shared_](std::string* p) { shared->Give(p); });
}

size_t BufferPool::idle() const {
  std::lock_guard lock(shared_->mu);
  return shared_->free.size();
}

}  // namespace shovel::fs
