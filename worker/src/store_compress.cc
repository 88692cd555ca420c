// Store: background compression of deferred chunks (see store.h).
//
// A SET stores compressible chunks raw and queues the id; CompressOne builds
// an equal blob whose deferred chunks are compressed (outside every lock) and
// installs it only if the id still holds the blob it started from, keeping
// the version, the LRU position and the pinned accounting. An id is queued
// once (Entry::queued), however often it is written: a blob that changed
// meanwhile is queued again here, and one written less than kCompressAfterNs
// ago goes back to the end of the queue with its write time.
#include <sched.h>

#include <chrono>

#include "decoded_cache.h"
#include "store_internal.h"

namespace shovel::worker {

void Store::CompressInBackground(bool on) {
  defer_ = on;
  if (!on) return;
  std::lock_guard<std::mutex> l(bg_mu_);
  if (bg_thread_.joinable() || bg_stop_) return;
  bg_thread_ = std::thread([this] { CompressorLoop(); });
}

void Store::StopCompressor() {
  {
    std::lock_guard<std::mutex> l(bg_mu_);
    bg_stop_ = true;
  }
  bg_cv_.notify_all();
  if (bg_thread_.joinable()) bg_thread_.join();
}

void Store::QueueCompression(std::string_view id, int64_t written_ns) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> l(bg_mu_);
    was_empty = bg_queue_.empty();
    bg_queue_.emplace_back(written_ns, std::string(id));
  }
  // The compressor sleeps untimed only on an empty queue; otherwise it waits
  // for the front's deadline, which a later entry does not move. Waking it
  // on every write cost a futex call per SET.
  if (was_empty) bg_cv_.notify_one();
}

size_t Store::CompressPending(size_t max_ids) {
  size_t done = 0;
  while (done < max_ids) {
    std::string id;
    {
      std::lock_guard<std::mutex> l(bg_mu_);
      if (bg_queue_.empty()) break;
      id = std::move(bg_queue_.front().second);
      bg_queue_.pop_front();
    }
    CompressOne(id, /*force=*/true);
    ++done;
  }
  return done;
}

void Store::CompressorLoop() {
  // Idle priority: compression only uses a core nothing else wants, so it
  // never slows the requests it follows.
  sched_param sp{};
  (void)sched_setscheduler(0, SCHED_IDLE, &sp);
  for (;;) {
    std::string id;
    {
      std::unique_lock<std::mutex> l(bg_mu_);
      bg_cv_.wait(l, [&] { return bg_stop_ || !bg_queue_.empty(); });
      if (bg_stop_) return;
      // Wait until the oldest write is kCompressAfterNs old (a pressure
      // path may take it meanwhile: look again).
      int64_t wait = bg_queue_.front().first + kCompressAfterNs - NowNs();
      if (wait > 0) {
        bg_cv_.wait_for(l, std::chrono::nanoseconds(wait), [&] { return bg_stop_; });
        continue;
      }
      id = std::move(bg_queue_.front().second);
      bg_queue_.pop_front();
    }
    CompressOne(id, /*force=*/false);
  }
}

Store::BlobPtr Store::TakeQueued(const std::string& id, bool force) {
  Shard& s = ShardFor(id);
  std::lock_guard<std::mutex> l(s.mu);
  EntryNode* node = s.map.Find(id);
  if (node == nullptr) return nullptr;
  Entry& e = node->second;
  if (!HasDeferred(*e.blob)) {
    e.queued = false;
    return nullptr;
  }
  if (!force && e.blob->mtime_ns + kCompressAfterNs > NowNs()) {
    // Written again since it was queued: that write waits its own delay.
    QueueCompression(id, e.blob->mtime_ns);
    return nullptr;
  }
  return e.blob;
}

bool Store::CompressOne(const std::string& id, bool force) {
  BlobPtr cur = TakeQueued(id, force);
  if (!cur) return false;
  int level = level_.load();
  auto next = std::make_shared<Blob>(*cur);
  // The raw chunks replaced, beside what replaced them: their bytes are the
  // decoded form, admitted to the decoded cache at no cost (the data was
  // just written; reads of it stay at raw speed while the cache keeps it).
  std::vector<std::pair<std::shared_ptr<Chunk>, ChunkRef>> decoded;
  next->chunks.clear();
  next->size = 0;
  next->stored = 0;
  for (const ChunkRef& r : cur->chunks) {
    Chunk& c = *r.chunk;
    if (!c.deferred.load(std::memory_order_relaxed) || level <= 0) {
      next->AddChunk(r);
      continue;
    }
    auto packed = codecs_->Compress(std::string_view(c.bytes(), r.len), level);
    if (packed->compressed) {
      if (!force && c.stored_size <= r.len) decoded.emplace_back(packed, r);
      next->AddChunk({std::move(packed), r.len});
    } else {
      c.deferred = false;  // did not pay: keep the raw chunk as it is
      next->AddChunk(r);
    }
  }
  // Same bytes, fewer stored: charged shrinks by exactly the stored bytes.
  next->charged = cur->charged - cur->stored + next->stored;
  const bool smaller = next->stored < cur->stored;
  // The swap only shrinks the charge: no reservation, and nothing counts
  // both blobs at once (which could make a concurrent write evict).
  const uint64_t saved = cur->charged - next->charged;
  const BlobPtr installed = next;
  Shard& s = ShardFor(id);
  bool swapped = false;
  {
    std::lock_guard<std::mutex> l(s.mu);
    EntryNode* node = s.map.Find(id);
    if (node == nullptr) return false;
    Entry& e = node->second;
    if (e.blob == cur && smaller) {
      if (cur->pinned) {
        pinned_bytes_.fetch_sub(cur->charged);
        pinned_bytes_.fetch_add(next->charged);
      }
      e.blob = std::move(next);
      swapped = true;
    }
    // A write since `cur` found the id queued and did not queue it again.
    if (e.blob != cur && !swapped && HasDeferred(*e.blob)) {
      QueueCompression(id, e.blob->mtime_ns);
    } else {
      e.queued = false;
    }
  }
  if (!swapped) return false;
  Release(saved);
  if (decoded.empty() || decoded_->capacity() == 0) return true;
  std::lock_guard<std::mutex> l(s.mu);
  EntryNode* node = s.map.Find(id);
  if (node == nullptr || node->second.blob != installed) return true;
  for (auto& [packed, raw] : decoded) {
    AdmitLocked(node->second, packed, Slice{raw.chunk, raw.chunk->bytes(), raw.len},
                /*probation=*/true);
  }
  return true;
}

}  // namespace shovel::worker
