#include "shovel/fs/dir_times.h"

#include <chrono>
#include <utility>
#include <vector>

namespace shovel::fs {

DirTimes::DirTimes(StoreFn store)
    : store_(std::move(store)), thread_([this] { Run(); }) {}

DirTimes::~DirTimes() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void DirTimes::Touch(const std::string& dir, int64_t ns) {
  {
    std::lock_guard lock(mu_);
    int64_t& t = pending_[dir];
    if (ns > t) t = ns;
  }
  wake_.notify_one();
}

namespace {
int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

std::optional<int64_t> DirTimes::Pending(const std::string& dir) const {
  std::lock_guard lock(mu_);
  auto it = pending_.find(dir);
  if (it != pending_.end()) return it->second;
  auto s = stored_recently_.find(dir);
  if (s != stored_recently_.end() && SteadyNs() - s->second.second < kKeepStored) {
    return s->second.first;
  }
  return std::nullopt;
}

void DirTimes::Flush() {
  std::unique_lock lock(mu_);
  stored_.wait(lock, [this] { return pending_.empty(); });
}

void DirTimes::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stopping, nothing left to store
    std::vector<std::pair<std::string, int64_t>> batch(pending_.begin(), pending_.end());
    lock.unlock();
    for (const auto& [dir, ns] : batch) store_(dir, ns);
    lock.lock();
    const int64_t now = SteadyNs();
    std::erase_if(stored_recently_,
                  [&](const auto& kv) { return now - kv.second.second >= kKeepStored; });
    for (const auto& [dir, ns] : batch) {
      auto it = pending_.find(dir);
      if (it != pending_.end() && it->second == ns) pending_.erase(it);  // not newer
      stored_recently_[dir] = {ns, now};
    }
    stored_.notify_all();
  }
}

}  // namespace shovel::fs
