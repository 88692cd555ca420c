// Store: writes, reads and metadata. Eviction is in store_evict.cc, LIST in
// store_list.cc, appends and uploads in store_append.cc, background
// compression in store_compress.cc.
#include "shovel/worker/store.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>

#include "decoded_cache.h"
#include "spread_pool.h"
#include "store_internal.h"

namespace shovel::worker {

Store::Store(std::string node_id, const WorkerConfig& config)
    : node_id_(std::move(node_id)),
      config_(config),
      limit_(config.max_memory),
      level_(config.compression_level),
      chunk_size_(config.chunk_size),
      eviction_(config.eviction),
      next_version_(static_cast<uint64_t>(NowNs())),
      shards_(new Shard[kShards]),
      codecs_(std::make_unique<CodecPool>()),
      decoded_(std::make_unique<DecodedCache>(DecodedCacheCapacity(config))),
      next_upload_(static_cast<uint64_t>(NowNs()) * 7919) {}

Store::~Store() { StopCompressor(); }

void Store::StartDecodeHelpers(int helpers) {
  if (spread_ || helpers <= 0) return;
  spread_ = std::make_unique<SpreadPool>(helpers);
  codecs_->set_spread(spread_.get());
}

void Store::ApplyConfig(const WorkerConfig& config) {
  {
    std::lock_guard<std::mutex> l(config_mu_);
    config_ = config;
    limit_ = config.max_memory;
    level_ = config.compression_level;
    chunk_size_ = config.chunk_size;
    eviction_ = config.eviction;
  }
  Release(decoded_->SetCapacity(DecodedCacheCapacity(config)));
  EvictDownToLimit();
}

WorkerConfig Store::config() const {
  std::lock_guard<std::mutex> l(config_mu_);
  return config_;
}

size_t Store::ShardIndex(std::string_view id) const { return StringHash()(id) % kShards; }
Shard& Store::ShardFor(std::string_view id) const { return shards_[ShardIndex(id)]; }

Store::BlobPtr Store::Lookup(std::string_view id, bool touch) const {
  Shard& s = ShardFor(id);
  std::lock_guard<std::mutex> l(s.mu);
  EntryNode* node = s.map.Find(id);
  if (node == nullptr) return nullptr;
  if (touch) {
    Entry& e = node->second;
    e.atime_ns = CoarseNowNs();
    e.tick = lru_tick_.fetch_add(1, std::memory_order_relaxed);
    if (e.in_lru) s.lru.splice(s.lru.begin(), s.lru, e.lru);
  }
  return node->second.blob;
}

Status Store::CheckVersion(std::string_view id, const Blob* cur,
                           const WriteOptions& opt) const {
  if (opt.if_size && (cur ? cur->size : 0) != opt.expected_size) {
    return Status::Conflict("id '" + std::string(id) + "' is " +
                            std::to_string(cur ? cur->size : 0) +
                            " bytes on this replica; the primary wrote at " +
                            std::to_string(opt.expected_size));
  }
  if (!opt.if_version) return Status::Ok();
  uint64_t have = cur ? cur->version : 0;
  if (have == opt.expected_version) return Status::Ok();
  if (opt.expected_version == 0) {
    return Status::Conflict("id '" + std::string(id) + "' exists (version " +
                            std::to_string(have) + "); the write required it absent");
  }
  return Status::Conflict("id '" + std::string(id) + "' is at version " +
                          std::to_string(have) + ", not " +
                          std::to_string(opt.expected_version));
}

void Store::InsertLocked(Shard& s, EntryNode* node, std::string_view id, BlobPtr blob,
                         int64_t now_ns) {
  bool fresh = false;
  if (node == nullptr) {
    std::tie(node, fresh) = s.map.Emplace(id);
  }
  Entry& e = node->second;
  // A new version, or attributes set in place (SetAttrs keeps the version);
  // not a compressor's re-encoding of the same bytes. Only asked with a
  // hook: comparing the attributes costs a map walk.
  const bool changed =
      change_hook_ && (fresh || !e.blob || e.blob->version != blob->version ||
                       e.blob->pinned != blob->pinned || e.blob->attrs != blob->attrs);
  ForgetDecodedLocked(e);
  e.atime_ns = now_ns;
  e.tick = lru_tick_.fetch_add(1, std::memory_order_relaxed);
  if (fresh) {
    ids_.fetch_add(1);
    std::lock_guard<std::mutex> l(index_mu_);
    index_.emplace(id);
  } else if (e.blob && e.blob->pinned) {
    pinned_bytes_.fetch_sub(e.blob->charged);
  }
  if (blob->pinned) pinned_bytes_.fetch_add(blob->charged);
  if (e.in_lru && !blob->pinned) {
    s.lru.splice(s.lru.begin(), s.lru, e.lru);  // no list node freed and made again
  } else {
    if (e.in_lru) s.lru.erase(e.lru);
    e.in_lru = !blob->pinned;
    if (e.in_lru) e.lru = s.lru.insert(s.lru.begin(), node);
  }
  if (!e.queued && HasDeferred(*blob)) {
    e.queued = true;
    QueueCompression(id, e.atime_ns);
  }
  e.blob = std::move(blob);
  if (changed) change_hook_(id, false);
}

Store::BlobPtr Store::EraseLocked(Shard& s, std::string_view id, bool evicted) {
  EntryNode* node = s.map.Find(id);
  if (node == nullptr) return nullptr;
  // Under the shard lock, as the erase: no reader sees one without the other.
  if (change_hook_) change_hook_(node->first, evicted);
  ForgetDecodedLocked(node->second);
  BlobPtr old = std::move(node->second.blob);
  if (node->second.in_lru) s.lru.erase(node->second.lru);
  if (old->pinned) pinned_bytes_.fetch_sub(old->charged);
  s.map.Erase(node);
  ids_.fetch_sub(1);
  std::lock_guard<std::mutex> l(index_mu_);
  auto ix = index_.find(id);
  if (ix != index_.end()) index_.erase(ix);
  return old;
}

bool Store::Swap(std::string_view id, const BlobPtr& expected, BlobPtr next) {
  Shard& s = ShardFor(id);
  BlobPtr old;
  {
    std::lock_guard<std::mutex> l(s.mu);
    EntryNode* node = s.map.Find(id);
    BlobPtr cur = node == nullptr ? nullptr : node->second.blob;
    if (cur != expected) return false;
    if (next) {
      InsertLocked(s, node, id, std::move(next), CoarseNowNs());
    } else if (cur) {
      EraseLocked(s, id);
    }
    old = std::move(cur);
  }
  if (old) Release(old->charged);
  return true;
}

uint64_t Store::TakeVersion() {
  uint64_t now = static_cast<uint64_t>(CoarseNowNs());
  uint64_t cur = next_version_.load(std::memory_order_relaxed);
  for (;;) {
    uint64_t v = std::max(cur, now);
    if (next_version_.compare_exchange_weak(cur, v + 1)) return v;
  }
}

std::shared_ptr<Blob> Store::NewBlob(const Blob* old, bool pinned, uint64_t version) {
  auto b = std::make_shared<Blob>();
  int64_t now = CoarseNowNs();
  if (old != nullptr) {
    b->ctime_ns = old->ctime_ns;
    b->attrs = old->attrs;
    b->pinned = old->pinned || pinned;
  } else {
    b->ctime_ns = now;
    b->pinned = pinned;
  }
  b->mtime_ns = now;
  if (version == 0) {
    b->version = TakeVersion();
    return b;
  }
  b->version = version;
  uint64_t next = next_version_.load();
  while (next <= version && !next_version_.compare_exchange_weak(next, version + 1)) {
  }
  return b;
}

Store::Piece Store::Split(std::string_view data, const std::shared_ptr<const void>& keep,
                          ChunkRef& one, std::vector<ChunkRef>& out) const {
  uint64_t cs = chunk_size_.load();
  CodecPool::MakeOptions mo;
  mo.defer = defer_.load();
  // Borrowing is only for a value of one chunk: then what `keep` holds is
  // exactly what the chunk is charged for.
  int level = level_.load();
  if (data.size() <= cs) {
    mo.keep = keep;
    if (data.empty()) return {};
    one = {codecs_->Make(data, level, mo), static_cast<uint32_t>(data.size())};
    return {&one, 1};
  }
  out.reserve((data.size() + cs - 1) / cs);
  while (!data.empty()) {
    std::string_view piece = data.substr(0, cs);
    out.push_back({codecs_->Make(piece, level, mo), static_cast<uint32_t>(piece.size())});
    data.remove_prefix(piece.size());
  }
  return out;
}

std::shared_ptr<Blob> Store::Assemble(std::string_view id, const Blob* cur,
                                      const WriteOptions& opt, bool append, Piece piece) {
  auto next = NewBlob(cur, opt.pinned, opt.version);
  size_t n = piece.size() + (append && cur ? cur->chunks.size() : 0);
  next->chunks.reserve(n);
  if (append && cur) {
    for (const auto& r : cur->chunks) next->AddChunk(r);
  }
  for (const auto& r : piece) next->AddChunk(r);
  next->Recharge(id.size());
  return next;
}

std::optional<Result<WriteResult>> Store::CommitInPlace(std::string_view id,
                                                        const WriteOptions& opt,
                                                        bool append, Piece piece,
                                                        uint64_t prereserved) {
  Shard& s = ShardFor(id);
  BlobPtr old;
  WriteResult res;
  {
    std::lock_guard<std::mutex> l(s.mu);
    EntryNode* node = s.map.Find(id);
    if (node) old = node->second.blob;
    SHOVEL_RETURN_IF_ERROR(CheckVersion(id, old.get(), opt));
    auto next = Assemble(id, old.get(), opt, append, piece);
    uint64_t need = next->charged > prereserved ? next->charged - prereserved : 0;
    if (!TryReserve(need, old ? old->charged : 0)) return std::nullopt;
    res = {next->version, next->size};
    int64_t now = next->mtime_ns;
    InsertLocked(s, node, id, std::move(next), now);
  }
  if (old) Release(old->charged);
  if (prereserved > 0) upload_bytes_.fetch_sub(prereserved);
  return res;
}

Result<WriteResult> Store::Commit(std::string_view id, const WriteOptions& opt,
                                  bool append, Piece piece, uint64_t prereserved) {
  if (auto done = CommitInPlace(id, opt, append, piece, prereserved)) return *done;
  for (;;) {
    BlobPtr cur = Lookup(id, false);
    SHOVEL_RETURN_IF_ERROR(CheckVersion(id, cur.get(), opt));
    auto next = Assemble(id, cur.get(), opt, append, piece);
    uint64_t need = next->charged > prereserved ? next->charged - prereserved : 0;
    SHOVEL_RETURN_IF_ERROR(Reserve(need, cur ? cur->charged : 0, id));
    WriteResult res{next->version, next->size};
    if (Swap(id, cur, std::move(next))) {
      if (prereserved > 0) upload_bytes_.fetch_sub(prereserved);
      return res;
    }
    Release(need);
  }
}

Result<WriteResult> Store::Set(std::string_view id, std::string_view data,
                               const WriteOptions& opt,
                               const std::shared_ptr<const void>& keep) {
  // Fail early and cheaply on a version mismatch (checked again at commit).
  if (opt.if_version)
    SHOVEL_RETURN_IF_ERROR(CheckVersion(id, Lookup(id, false).get(), opt));
  ChunkRef one;
  std::vector<ChunkRef> many;
  Piece piece = Split(data, keep, one, many);
  return Commit(id, opt, /*append=*/false, piece, 0);
}

Result<WriteResult> Store::Create(std::string_view id, bool pinned, bool exclusive,
                                  uint64_t version) {
  for (;;) {
    BlobPtr cur = Lookup(id, false);
    if (cur && exclusive) {
      return Status::AlreadyExists("id '" + std::string(id) + "' already exists");
    }
    if (cur && (cur->pinned || !pinned)) return WriteResult{cur->version, cur->size};
    std::shared_ptr<Blob> next;
    if (cur) {
      next = std::make_shared<Blob>(*cur);
      next->pinned = true;
    } else {
      next = NewBlob(nullptr, pinned, version);
      next->Recharge(id.size());
    }
    SHOVEL_RETURN_IF_ERROR(Reserve(next->charged, cur ? cur->charged : 0, id));
    WriteResult res{next->version, next->size};
    uint64_t charged = next->charged;
    if (Swap(id, cur, std::move(next))) return res;
    Release(charged);
  }
}

Result<ReadResult> Store::Read(std::string_view id, uint64_t offset, uint64_t length,
                               uint64_t max_bytes) {
  return ReadRange(id, offset, length, max_bytes, /*all_or_nothing=*/false);
}

Result<ReadResult> Store::ReadIfFits(std::string_view id, uint64_t offset,
                                     uint64_t length, uint64_t max_bytes) {
  return ReadRange(id, offset, length, max_bytes, /*all_or_nothing=*/true);
}

namespace {

// The index of the chunk of `b` that holds raw offset `offset` (< b.size).
size_t ChunkAt(const Blob& b, uint64_t offset) {
  auto it =
      std::upper_bound(b.chunks.begin(), b.chunks.end(), offset,
                       [](uint64_t off, const ChunkRef& c) { return off < c.start; });
  return it - b.chunks.begin() - 1;
}

// True when `n` bytes from `in_chunk` lie in `c` and `c` is raw: a read of
// them is a zero-copy slice of a chunk that never changes.
bool RawSlice(const ChunkRef& c, uint64_t in_chunk, uint64_t n) {
  return !c.chunk->compressed && in_chunk + n <= c.len;
}

}  // namespace

bool Store::CheapSet(uint64_t bytes) const {
  return bytes <= chunk_size_.load() && (level_.load() <= 0 || defer_.load());
}

bool Store::CheapRead(std::string_view id, uint64_t offset, uint64_t length,
                      uint64_t max_bytes, uint64_t copy_bytes) const {
  BlobPtr b = Lookup(id, false);
  if (!b || b->size <= copy_bytes) return true;
  uint64_t start = std::min(offset, b->size);
  uint64_t serve = std::min({length, b->size - start, max_bytes});
  if (serve == 0) return true;
  const ChunkRef& c = b->chunks[ChunkAt(*b, start)];
  return RawSlice(c, start - c.start, serve) ||
         (start - c.start + serve <= c.len && decoded_->Contains(c.chunk.get()));
}

Result<ReadResult> Store::ReadRange(std::string_view id, uint64_t offset, uint64_t length,
                                    uint64_t max_bytes, bool all_or_nothing) {
  BlobPtr b = Lookup(id, true);
  if (!b) return Status::NotFound("id '" + std::string(id) + "' does not exist");
  ReadResult r;
  r.size = b->size;
  r.version = b->version;
  r.offset = std::min(offset, b->size);
  uint64_t end = length > b->size - r.offset ? b->size : r.offset + length;
  uint64_t n = end - r.offset;
  uint64_t serve = std::min(n, max_bytes);
  r.more = serve < n;
  if (serve == 0 || (r.more && all_or_nothing)) return r;
  size_t i = ChunkAt(*b, r.offset);
  uint64_t in_chunk = r.offset - b->chunks[i].start;
  const ChunkRef& first = b->chunks[i];
  if (RawSlice(first, in_chunk, serve)) {
    r.bytes.owner = first.chunk;
    r.bytes.data = first.chunk->bytes() + in_chunk;
    r.bytes.size = serve;
    return r;
  }
  if (in_chunk + serve <= first.len) {
    // In one compressed chunk: a slice of its decoded bytes when cached.
    Slice whole = Decoded(id, b, first, in_chunk, serve);
    if (whole.owner) {
      r.bytes.owner = std::move(whole.owner);
      r.bytes.data = whole.data + in_chunk;
      r.bytes.size = serve;
      return r;
    }
  }
  // One allocation for the bytes and their control block.
  std::shared_ptr<char[]> buf;
  try {
    buf = std::make_shared_for_overwrite<char[]>(serve);
  } catch (const std::bad_alloc&) {
    return Status::NoSpace("cannot allocate " + std::to_string(serve) + " bytes");
  }
  uint64_t done = 0;
  for (; done < serve; ++i) {
    const ChunkRef& c = b->chunks[i];
    uint64_t off = done == 0 ? in_chunk : 0;
    uint64_t take = std::min<uint64_t>(c.len - off, serve - done);
    if (c.chunk->compressed) {
      if (Slice whole = Decoded(id, b, c, off, take); whole.owner) {
        std::memcpy(buf.get() + done, whole.data + off, take);
        done += take;
        continue;
      }
    }
    SHOVEL_RETURN_IF_ERROR(codecs_->Read(*c.chunk, static_cast<uint32_t>(off),
                                         static_cast<uint32_t>(take), buf.get() + done));
    done += take;
  }
  r.bytes.data = buf.get();
  r.bytes.size = serve;
  r.bytes.owner = std::move(buf);
  return r;
}

Status Store::Delete(std::string_view id, const WriteOptions& opt) {
  for (;;) {
    BlobPtr cur = Lookup(id, false);
    if (!cur) return Status::NotFound("id '" + std::string(id) + "' does not exist");
    SHOVEL_RETURN_IF_ERROR(CheckVersion(id, cur.get(), opt));
    if (Swap(id, cur, nullptr)) return Status::Ok();
  }
}

Result<wire::StatBody> Store::Stat(std::string_view id) {
  Shard& s = ShardFor(id);
  std::lock_guard<std::mutex> l(s.mu);
  EntryNode* node = s.map.Find(id);
  if (node == nullptr) {
    return Status::NotFound("id '" + std::string(id) + "' does not exist");
  }
  const Blob& b = *node->second.blob;
  wire::StatBody st;
  st.size = b.size;
  st.stored_bytes = b.stored;
  st.version = b.version;
  st.ctime_ns = b.ctime_ns;
  st.mtime_ns = b.mtime_ns;
  st.atime_ns = node->second.atime_ns;
  st.pinned = b.pinned;
  st.attrs = b.attrs;
  return st;
}

Status Store::SetAttrs(std::string_view id, const wire::Attrs& set,
                       const std::vector<std::string>& drop) {
  for (;;) {
    BlobPtr cur = Lookup(id, false);
    if (!cur) return Status::NotFound("id '" + std::string(id) + "' does not exist");
    auto next = std::make_shared<Blob>(*cur);
    for (const auto& name : drop) next->attrs.erase(name);
    for (const auto& [k, v] : set) next->attrs[k] = v;
    next->Recharge(id.size());
    for (const auto& [k, v] : next->attrs) next->charged += k.size() + v.size() + 64;
    SHOVEL_RETURN_IF_ERROR(Reserve(next->charged, cur->charged, id));
    uint64_t charged = next->charged;
    if (Swap(id, cur, std::move(next))) return Status::Ok();
    Release(charged);
  }
}

Status Store::Rename(std::string_view from, std::string_view to, bool exclusive) {
  if (from == to) {
    if (!Lookup(from, false)) {
      return Status::NotFound("id '" + std::string(from) + "' does not exist");
    }
    return Status::Ok();
  }
  size_t a = ShardIndex(from), b = ShardIndex(to);
  std::unique_lock<std::mutex> l1(shards_[std::min(a, b)].mu);
  std::unique_lock<std::mutex> l2;
  if (a != b) l2 = std::unique_lock<std::mutex>(shards_[std::max(a, b)].mu);
  Shard& sf = shards_[a];
  Shard& st = shards_[b];
  if (sf.map.Find(from) == nullptr) {
    return Status::NotFound("id '" + std::string(from) + "' does not exist");
  }
  if (exclusive && st.map.Find(to) != nullptr) {
    return Status::AlreadyExists("id '" + std::string(to) + "' already exists");
  }
  BlobPtr moving = EraseLocked(sf, from);
  BlobPtr replaced = EraseLocked(st, to);
  // Deferred chunks are queued by id: InsertLocked queues `to`.
  InsertLocked(st, nullptr, to, std::move(moving), CoarseNowNs());
  l2 = {};
  l1.unlock();
  if (replaced) Release(replaced->charged);
  return Status::Ok();
}

Status Store::PutPointer(std::string_view id, Pointer p) {
  Shard& s = ShardFor(id);
  std::lock_guard<std::mutex> l(s.mu);
  auto [it, fresh] = s.pointers.try_emplace(std::string(id));
  it->second = std::move(p);
  if (fresh) pointers_.fetch_add(1);
  return Status::Ok();
}

std::optional<Pointer> Store::FindPointer(std::string_view id) const {
  if (pointers_.load(std::memory_order_relaxed) == 0) return std::nullopt;
  Shard& s = ShardFor(id);
  std::lock_guard<std::mutex> l(s.mu);
  auto it = s.pointers.find(id);
  if (it == s.pointers.end()) return std::nullopt;
  return it->second;
}

bool Store::RemovePointer(std::string_view id) {
  Shard& s = ShardFor(id);
  std::lock_guard<std::mutex> l(s.mu);
  auto it = s.pointers.find(id);
  if (it == s.pointers.end()) return false;
  s.pointers.erase(it);
  pointers_.fetch_sub(1);
  return true;
}

StoreStats Store::Stats() const {
  StoreStats s;
  s.mem_used = used_.load();
  s.mem_limit = limit_.load();
  s.ids = ids_.load();
  s.pinned_bytes = pinned_bytes_.load();
  s.evictions = evictions_.load();
  s.evicted_bytes = evicted_bytes_.load(std::memory_order_relaxed);
  DecodedCacheStats d = decoded_->Stats();
  s.decoded_hits = d.hits;
  s.decoded_misses = d.misses;
  s.decoded_bytes = d.bytes;
  s.decoded_capacity = d.capacity;
  std::lock_guard<std::mutex> l(uploads_mu_);
  s.uploads = uploads_.size();
  return s;
}

StoreTotals Store::Totals() const {
  StoreTotals t;
  for (size_t i = 0; i < kShards; ++i) {
    Shard& s = shards_[i];
    std::lock_guard<std::mutex> l(s.mu);
    s.map.ForEach([&t](const EntryNode& n) {
      if (!n.second.blob) return;
      t.raw_bytes += n.second.blob->size;
      t.stored_bytes += n.second.blob->stored;
    });
  }
  return t;
}

}  // namespace shovel::worker
