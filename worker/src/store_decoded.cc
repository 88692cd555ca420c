// Store: the decoded-chunk cache's side of reads, admission and accounting
// (the cache itself is decoded_cache.cc).
#include <algorithm>
#include <new>

#include "decoded_cache.h"
#include "store_internal.h"

namespace shovel::worker {
namespace {

// Whether decompressing all of `ref` for a read of [off, off+n) costs at
// most four times what the read decompresses anyway (its frames).
bool WorthDecodingWhole(const ChunkRef& ref, uint64_t off, uint64_t n) {
  if (ref.chunk->frame_ends.empty()) return true;  // one frame: read whole anyway
  const uint64_t from = off / kFrameBytes * kFrameBytes;
  const uint64_t to = std::min<uint64_t>(
      ref.len, (off + n + kFrameBytes - 1) / kFrameBytes * kFrameBytes);
  return (to - from) * 4 >= ref.len;
}

}  // namespace

Slice Store::Decoded(std::string_view id, const BlobPtr& b, const ChunkRef& ref,
                     uint64_t off, uint64_t n) {
  if (!ref.chunk->compressed || ref.len < DecodedCache::kMinBytes) return {};
  if (Slice hit = decoded_->Find(ref.chunk); hit.owner) return hit;
  if (ref.len + DecodedCache::kEntryOverhead > decoded_->capacity() ||
      !WorthDecodingWhole(ref, off, n)) {
    return {};
  }
  std::shared_ptr<char[]> buf;
  try {
    buf = std::make_shared_for_overwrite<char[]>(ref.len);
  } catch (const std::bad_alloc&) {
    return {};
  }
  if (!codecs_->Read(*ref.chunk, 0, ref.len, buf.get()).ok()) return {};
  Slice whole{buf, buf.get(), ref.len};
  Shard& s = ShardFor(id);
  std::lock_guard<std::mutex> l(s.mu);
  // Only chunks of the blob the id holds now: a write since the lookup has
  // already dropped this blob's entries and must not see one come back.
  EntryNode* node = s.map.Find(id);
  // A read of part of the chunk decompressed the rest to keep it (the next
  // read of a sequential reader wants it): kept. A read of all of it has
  // used what it decompressed, and is kept only if the cache admits it (a
  // scan of more than the cache holds is not).
  const bool all_read = off == 0 && n >= ref.len;
  if (node != nullptr && node->second.blob == b &&
      (!all_read || decoded_->AdmitMiss(ref.chunk.get(), ref.len))) {
    AdmitLocked(node->second, ref.chunk, whole, /*probation=*/false);
  }
  return whole;
}

void Store::AdmitLocked(Entry& e, const std::shared_ptr<Chunk>& chunk, Slice bytes,
                        bool probation) {
  const uint64_t charge = bytes.size + DecodedCache::kEntryOverhead;
  if (bytes.size < DecodedCache::kMinBytes || charge > decoded_->capacity()) return;
  if (!TryReserve(charge, 0)) {
    // Never at the expense of stored data: only the cache's own LRU entries
    // make room, and bytes nobody read do not even displace those.
    if (probation) return;
    Release(decoded_->Shrink(charge));
    if (!TryReserve(charge, 0)) return;
  }
  DecodedCache::Inserted in = decoded_->Insert(chunk, std::move(bytes), probation);
  Release(in.freed);
  if (!in.inserted) {
    Release(charge);
    return;
  }
  e.decoded = true;
}

void Store::ForgetDecodedLocked(Entry& e) {
  if (!e.decoded) return;
  e.decoded = false;
  if (e.blob) Release(decoded_->Remove(e.blob->chunks));
}

}  // namespace shovel::worker
