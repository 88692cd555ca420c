#include "spread_pool.h"

#include <algorithm>

namespace shovel::worker {

SpreadPool::SpreadPool(int helpers) {
  threads_.reserve(static_cast<size_t>(std::max(helpers, 0)));
  for (int i = 0; i < helpers; ++i) threads_.emplace_back([this] { HelperLoop(); });
}

SpreadPool::~SpreadPool() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

size_t SpreadPool::Drain(Job& job) {
  size_t ran = 0;
  for (;;) {
    size_t i = job.next.fetch_add(1, std::memory_order_relaxed);
    if (i >= job.n) return ran;
    (*job.fn)(i);
    ++ran;
  }
}

void SpreadPool::Run(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  if (threads_.empty() || n == 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  Job job;
  job.fn = &fn;
  job.n = n;
  {
    std::lock_guard<std::mutex> l(mu_);
    jobs_.push_back(&job);
  }
  // Wake at most as many helpers as there are items beyond the caller's.
  if (n - 1 >= threads_.size()) {
    work_cv_.notify_all();
  } else {
    for (size_t i = 0; i + 1 < n; ++i) work_cv_.notify_one();
  }
  Drain(job);
  // Every item is claimed: close the job to helpers, then wait for those
  // still running one of its items (their writes happen-before the unlock
  // that lets this thread see active == 0).
  std::unique_lock<std::mutex> l(mu_);
  auto it = std::find(jobs_.begin(), jobs_.end(), &job);
  if (it != jobs_.end()) jobs_.erase(it);
  done_cv_.wait(l, [&job] { return job.active == 0; });
}

void SpreadPool::HelperLoop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    work_cv_.wait(l, [this] { return stop_ || !jobs_.empty(); });
    if (stop_) return;
    Job* job = jobs_.front();
    if (job->next.load(std::memory_order_relaxed) >= job->n) {
      // Nothing left to claim: the caller will not need help with it.
      jobs_.pop_front();
      continue;
    }
    ++job->active;
    l.unlock();
    size_t ran = Drain(*job);
    helped_.fetch_add(ran, std::memory_order_relaxed);
    l.lock();
    // The caller erases the job before waiting; a job it still lists has
    // items this helper could not claim, and it is popped above next time.
    if (--job->active == 0) done_cv_.notify_all();
  }
}

}  // namespace shovel::worker
