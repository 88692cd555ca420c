// Store: APPEND and streamed uploads.
#include <algorithm>
#include <cstring>

#include "shovel/size.h"
#include "store_internal.h"

namespace shovel::worker {
namespace {

constexpr size_t kMinTailCapacity = 4096;

size_t TailCapacity(size_t len, uint64_t chunk_size) {
  return static_cast<size_t>(
      std::min<uint64_t>(chunk_size, std::max<size_t>(kMinTailCapacity, 2 * len)));
}

}  // namespace

void Store::AppendChunks(const Blob* cur, std::string_view data, Blob& next) const {
  uint64_t cs = chunk_size_.load();
  int level = level_.load();
  size_t keep = cur ? cur->chunks.size() : 0;
  const ChunkRef* last = keep > 0 ? &cur->chunks[keep - 1] : nullptr;
  bool open_tail = last != nullptr && last->len < cs && !data.empty();
  if (open_tail) --keep;
  for (size_t i = 0; i < keep; ++i) next.AddChunk(cur->chunks[i]);
  ChunkRef tail;
  if (open_tail) {
    Chunk& c = *last->chunk;
    uint32_t len = last->len;
    uint32_t expect = len;
    size_t take = 0;
    if (c.growable && c.raw_size > len)
      take = std::min<size_t>(data.size(), c.raw_size - len);
    if (take > 0 && c.claimed.compare_exchange_strong(expect, len + take)) {
      // Only this caller extends past `len`; readers never see these bytes
      // before the new snapshot is published under the shard lock.
      std::memcpy(c.data.get() + len, data.data(), take);
      tail = {last->chunk, static_cast<uint32_t>(len + take)};
    } else {
      take = std::min<uint64_t>(data.size(), cs - len);
      std::string merged(len + take, '\0');
      Status st = codecs_->Read(c, 0, len, merged.data());
      (void)st;  // a corrupt chunk stays corrupt; nothing better to do here
      std::memcpy(merged.data() + len, data.data(), take);
      tail = {CodecPool::Growable(merged, TailCapacity(merged.size(), cs)),
              static_cast<uint32_t>(merged.size())};
    }
    data.remove_prefix(take);
  }
  auto push = [&](ChunkRef r) {
    if (r.chunk->growable && r.len >= cs) {  // a full tail is sealed
      r.chunk = codecs_->Compress(std::string_view(r.chunk->data.get(), r.len), level);
    }
    next.AddChunk(std::move(r));
  };
  if (tail.chunk) push(std::move(tail));
  while (!data.empty()) {
    std::string_view piece = data.substr(0, cs);
    data.remove_prefix(piece.size());
    if (piece.size() == cs) {
      push({codecs_->Compress(piece, level), static_cast<uint32_t>(cs)});
    } else {
      push({CodecPool::Growable(piece, TailCapacity(piece.size(), cs)),
            static_cast<uint32_t>(piece.size())});
    }
  }
}

Result<WriteResult> Store::Append(std::string_view id, std::string_view data,
                                  const WriteOptions& opt) {
  for (;;) {
    BlobPtr cur = Lookup(id, false);
    SHOVEL_RETURN_IF_ERROR(CheckVersion(id, cur.get(), opt));
    auto next = NewBlob(cur.get(), opt.pinned, opt.version);
    AppendChunks(cur.get(), data, *next);
    next->Recharge(id.size());
    if (cur) {
      for (const auto& [k, v] : cur->attrs) next->charged += k.size() + v.size() + 64;
    }
    SHOVEL_RETURN_IF_ERROR(Reserve(next->charged, cur ? cur->charged : 0, id));
    WriteResult res{next->version, next->size};
    uint64_t charged = next->charged;
    if (Swap(id, cur, std::move(next))) return res;
    Release(charged);
  }
}

// ---- Uploads ---------------------------------------------------------------

std::shared_ptr<Upload> Store::FindUpload(uint64_t handle) const {
  std::lock_guard<std::mutex> l(uploads_mu_);
  auto it = uploads_.find(handle);
  return it == uploads_.end() ? nullptr : it->second;
}

Result<uint64_t> Store::UploadBegin(std::string_view id, bool append,
                                    const WriteOptions& opt, uint64_t size_hint) {
  SHOVEL_RETURN_IF_ERROR(CheckVersion(id, Lookup(id, false).get(), opt));
  // Chunks are charged raw while they arrive when compression is deferred
  // (or off). A known size that exceeds what eviction could ever free
  // would evict unpinned ids chunk by chunk: raw, it is refused now; if it
  // may compress, it goes ahead without evicting anything.
  bool no_evict = false;
  if (size_hint > 0 && (defer_.load() || level_.load() <= 0)) {
    uint64_t cs = std::max<uint64_t>(1, chunk_size_.load());
    uint64_t cost = size_hint + (size_hint / cs + 1) * kChunkOverhead;
    uint64_t fixed = pinned_bytes_.load() + upload_bytes_.load();
    uint64_t limit = limit_.load();
    if (fixed + cost > limit) {
      if (level_.load() <= 0) return NoSpace(cost);
      no_evict = true;
    }
  }
  ExpireUploads(NowNs());
  auto u = std::make_shared<Upload>();
  u->id = std::string(id);
  u->append = append;
  u->opt = opt;
  u->no_evict = no_evict;
  u->size_hint = size_hint;
  u->last_ns = NowNs();
  std::lock_guard<std::mutex> l(uploads_mu_);
  if (uploads_.size() >= kMaxUploads) {
    return Status::Unavailable("worker " + node_id_ + " has " +
                               std::to_string(kMaxUploads) +
                               " uploads in progress; retry later");
  }
  uint64_t handle = ++next_upload_;
  uploads_.emplace(handle, std::move(u));
  return handle;
}

Status Store::FlushUploadTail(Upload& u, bool final) {
  uint64_t cs = chunk_size_.load();
  if (u.tail.empty() || (!final && u.tail.size() < cs)) return Status::Ok();
  CodecPool::MakeOptions mo;
  mo.defer = defer_.load();
  auto chunk = codecs_->Make(u.tail, level_.load(), mo);
  uint64_t cost = chunk->stored_size + kChunkOverhead;
  // The tail's raw bytes were reserved as they came; swap them for the chunk.
  uint64_t tail_bytes = u.tail.size();
  if (cost > tail_bytes) {
    SHOVEL_RETURN_IF_ERROR(ReserveForUpload(u, cost - tail_bytes));
    upload_bytes_.fetch_add(cost - tail_bytes);
  } else {
    Release(tail_bytes - cost);
    upload_bytes_.fetch_sub(tail_bytes - cost);
  }
  u.reserved = u.reserved - tail_bytes + cost;
  u.chunks.push_back({std::move(chunk), static_cast<uint32_t>(tail_bytes)});
  u.tail.clear();  // keeps its capacity for the next chunk
  return Status::Ok();
}

Status Store::ReserveForUpload(Upload& u, uint64_t bytes) {
  for (;;) {
    if (TryReserve(bytes, 0)) return Status::Ok();
    if (CompressUploadChunk(u)) continue;
    if (!u.no_evict) {
      Status st = Reserve(bytes, 0, u.id);
      return st.IsNoSpace() ? NoSpace(bytes, u.reserved) : st;
    }
    if (CompressPending(1) == 0) {
      uint64_t limit = limit_.load(), used = std::min(limit, used_.load());
      return Status::NoSpace("worker " + node_id_ + " cannot hold a write of " +
                             FormatSize(u.size_hint) + " (" + FormatSize(limit) +
                             " limit): it did not compress into the " +
                             FormatSize(limit - used + u.reserved) +
                             " that were free, and a write that large evicts nothing");
    }
  }
}

bool Store::CompressUploadChunk(Upload& u) {
  while (u.compress_from < u.chunks.size()) {
    ChunkRef& ref = u.chunks[u.compress_from++];
    Chunk& raw = *ref.chunk;
    if (!raw.deferred.load(std::memory_order_relaxed)) continue;
    raw.deferred.store(false, std::memory_order_relaxed);  // not shared yet
    auto c = codecs_->Compress(std::string_view(raw.bytes(), ref.len), level_.load());
    if (!c->compressed || c->stored_size >= raw.stored_size) continue;
    uint64_t saved = raw.stored_size - c->stored_size;
    ref.chunk = std::move(c);
    Release(saved);
    upload_bytes_.fetch_sub(saved);
    u.reserved -= saved;
    return true;
  }
  return false;
}

Status Store::UploadData(uint64_t handle, uint64_t offset,
                         const std::vector<std::string_view>& parts) {
  auto u = FindUpload(handle);
  if (!u) return Status::NotFound("upload " + std::to_string(handle) + " is not open");
  Status st;
  {
    std::lock_guard<std::mutex> l(u->mu);
    if (u->done) return Status::NotFound("upload " + std::to_string(handle) + " ended");
    if (offset != u->received) {
      return Status::InvalidArgument("upload data at offset " + std::to_string(offset) +
                                     ", expected " + std::to_string(u->received));
    }
    u->last_ns = NowNs();
    uint64_t cs = chunk_size_.load();
    for (std::string_view part : parts) {
      while (!part.empty() && st.ok()) {
        if (u->tail.capacity() < cs) u->tail.reserve(cs);
        size_t take = std::min<uint64_t>(part.size(), cs - std::min(cs, u->tail.size()));
        if (take == 0) take = part.size();
        st = ReserveForUpload(*u, take);
        if (!st.ok()) break;
        upload_bytes_.fetch_add(take);
        u->reserved += take;
        u->tail.append(part.substr(0, take));
        part.remove_prefix(take);
        u->received += take;
        st = FlushUploadTail(*u, false);
      }
    }
  }
  // A write that does not fit ends the upload, freeing what it held.
  if (!st.ok()) (void)UploadAbort(handle);
  return st;
}

Result<std::shared_ptr<Upload>> Store::TakeUpload(uint64_t handle) {
  std::lock_guard<std::mutex> l(uploads_mu_);
  auto it = uploads_.find(handle);
  if (it == uploads_.end()) {
    return Status::NotFound("upload " + std::to_string(handle) + " is not open");
  }
  std::shared_ptr<Upload> u = std::move(it->second);
  uploads_.erase(it);
  return u;
}

void Store::ReleaseUpload(Upload& u) {
  Release(u.reserved);
  upload_bytes_.fetch_sub(u.reserved);
  u.reserved = 0;
}

Result<WriteResult> Store::UploadCommit(uint64_t handle) {
  SHOVEL_ASSIGN_OR_RETURN(std::shared_ptr<Upload> u, TakeUpload(handle));
  std::lock_guard<std::mutex> l(u->mu);
  u->done = true;
  Status st = FlushUploadTail(*u, true);
  Result<WriteResult> r = st;
  if (st.ok()) {
    r = Commit(u->id, u->opt, u->append, u->chunks, u->reserved);
    if (r.ok()) return r;
  }
  ReleaseUpload(*u);
  return r;
}

Status Store::UploadAbort(uint64_t handle) {
  SHOVEL_ASSIGN_OR_RETURN(std::shared_ptr<Upload> u, TakeUpload(handle));
  std::lock_guard<std::mutex> l(u->mu);
  u->done = true;
  ReleaseUpload(*u);
  return Status::Ok();
}

size_t Store::ExpireUploads(int64_t now_ns) {
  std::vector<uint64_t> idle;
  {
    std::lock_guard<std::mutex> l(uploads_mu_);
    for (const auto& [h, u] : uploads_) {
      std::unique_lock<std::mutex> ul(u->mu, std::try_to_lock);
      if (ul.owns_lock() && u->last_ns < now_ns - kUploadIdleNs) idle.push_back(h);
    }
  }
  for (uint64_t h : idle) (void)UploadAbort(h);
  return idle.size();
}

}  // namespace shovel::worker
