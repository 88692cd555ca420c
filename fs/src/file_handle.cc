#include "shovel/fs/file_handle.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "shovel/fs/buffer_pool.h"
#include "shovel/fs/task_pool.h"

namespace shovel::fs {
namespace {

constexpr uint64_t kZeroBlock = 1ull << 20;
// Read-ahead blocks at least this large take their buffer from the pool.
constexpr uint64_t kPooledBlock = 256ull << 10;

}  // namespace

ReadData ReadData::Own(std::string s) {
  auto owner = std::make_shared<const std::string>(std::move(s));
  return ReadData{owner, *owner};
}

FileHandle::FileHandle(Client* client, std::string id, Mode mode, BaseState base,
                       HandleLimits limits, BufferPool* pool, TaskPool* tasks)
    : client_(client),
      limits_(limits),
      id_(std::move(id)),
      mode_(mode),
      base_(std::move(base)),
      pool_(pool),
      tasks_(tasks),
      read_ahead_(ReadAhead::Limits{limits.readahead_initial,
                                    limits.readahead * limits.readahead_blocks,
                                    limits.readahead_reorder}) {
  keep_ = size_ = base_.size;
  holes_ = Holes::FromAttrs(base_.attrs);
  stream_open_ = mode_ == Mode::kStream;
  whole_stream_ = mode_ == Mode::kStream;
}

FileHandle::~FileHandle() {
  fetches_.clear();  // a fetch in flight keeps its own state alive
  if (writer_) writer_->Abort();
}

bool FileHandle::wrote_whole_version() const {
  std::lock_guard lock(mu_);
  return whole_stream_ && committed_version_ != 0;
}

void FileHandle::SetId(std::string id) {
  std::lock_guard lock(mu_);
  id_ = std::move(id);
}

Status FileHandle::CommitStream() {
  std::lock_guard lock(mu_);
  if (mode_ != Mode::kStream || !stream_open_) return Status::Ok();
  whole_stream_ = false;
  return CommitStreamLocked();
}

std::optional<uint32_t> FileHandle::StoredMode() const {
  std::lock_guard lock(mu_);
  auto it = pending_attrs_.set.find(kAttrMode);
  if (it == pending_attrs_.set.end()) {
    if (std::count(pending_attrs_.drop.begin(), pending_attrs_.drop.end(), kAttrMode) !=
        0) {
      return std::nullopt;
    }
    it = base_.attrs.find(kAttrMode);
    if (it == base_.attrs.end()) return std::nullopt;
  }
  return static_cast<uint32_t>(std::strtoul(it->second.c_str(), nullptr, 8) & 07777);
}

std::string FileHandle::StoredHoles() const {
  std::lock_guard lock(mu_);
  return holes_.Format();
}

uint64_t FileHandle::committed_version() const {
  std::lock_guard lock(mu_);
  return committed_version_;
}

bool FileHandle::HasPendingDataLocked() const {
  return (mode_ == Mode::kStream && stream_open_) || dirty_;
}

std::optional<FileHandle::Pending> FileHandle::PendingView() const {
  std::lock_guard lock(mu_);
  if (!HasPendingDataLocked() && !has_pending_attrs_) return std::nullopt;
  Pending p;
  const bool streaming = mode_ == Mode::kStream && stream_open_;
  p.size = streaming ? std::max(streamed_, min_size_) : size_;
  p.hole_bytes = streaming ? stream_holes_.total() : holes_.total();
  p.attrs = base_.attrs;
  for (const auto& key : pending_attrs_.drop) p.attrs.erase(key);
  for (const auto& [k, v] : pending_attrs_.set) p.attrs[k] = v;
  return p;
}

// ---- writes ----

Result<size_t> FileHandle::Write(uint64_t off, std::string_view data) {
  std::lock_guard lock(mu_);
  if (mode_ == Mode::kAppend) {
    if (!append_held_.empty() && off != append_next_) {
      SHOVEL_RETURN_IF_ERROR(AppendHeldLocked({}));  // another write(2)
    }
    if (data.size() >= limits_.max_write &&
        append_held_.size() + data.size() <= limits_.max_dirty) {
      // Perhaps a piece of a larger write(2): the rest follows at once.
      append_held_.append(data);
      append_next_ = off + data.size();
      return data.size();
    }
    SHOVEL_RETURN_IF_ERROR(AppendHeldLocked(data));
    return data.size();
  }
  if (mode_ == Mode::kStream && stream_open_) {
    SHOVEL_RETURN_IF_ERROR(StreamWriteLocked(off, data));
    return data.size();
  }
  PatchWriteLocked(off, data);
  if (dirty_bytes_ > limits_.max_dirty) SHOVEL_RETURN_IF_ERROR(CommitPatchLocked());
  return data.size();
}

Status FileHandle::AppendHeldLocked(std::string_view tail) {
  Result<uint64_t> version = Status::Ok();
  if (append_held_.empty()) {
    if (tail.empty()) return Status::Ok();
    version = client_->Append(id_, tail);
  } else {
    append_held_.append(tail);
    version = client_->Append(id_, append_held_);
    std::string().swap(append_held_);
    // The held pieces were acknowledged: their loss is reported at close.
    if (!version.ok()) append_error_ = version.status();
  }
  if (!version.ok()) return version.status();
  committed_version_ = *version;
  return Status::Ok();
}

Status FileHandle::StreamWriteLocked(uint64_t off, std::string_view data) {
  if (off < streamed_ || off - streamed_ > limits_.max_gap) {
    // Not sequential: commit what was streamed and continue as a patch.
    SHOVEL_RETURN_IF_ERROR(CommitStreamLocked());
    whole_stream_ = false;
    PatchWriteLocked(off, data);
    return Status::Ok();
  }
  if (off > streamed_) SHOVEL_RETURN_IF_ERROR(StreamGapLocked(off - streamed_));
  if (!writer_) {
    SHOVEL_ASSIGN_OR_RETURN(writer_, client_->OpenWriter(id_, WriteMode::kSet));
  }
  Status s = writer_->Write(data);
  if (!s.ok()) {
    writer_.reset();  // aborts; the old value stays whole
    stream_open_ = false;
    mode_ = Mode::kRead;
    return s;
  }
  streamed_ += data.size();
  return Status::Ok();
}

Status FileHandle::StreamZerosLocked(uint64_t n) {
  static const std::string kZeros(kZeroBlock, '\0');
  if (!writer_) {
    SHOVEL_ASSIGN_OR_RETURN(writer_, client_->OpenWriter(id_, WriteMode::kSet));
  }
  while (n > 0) {
    uint64_t step = std::min<uint64_t>(n, kZeroBlock);
    SHOVEL_RETURN_IF_ERROR(writer_->Write(std::string_view(kZeros).substr(0, step)));
    streamed_ += step;
    n -= step;
  }
  return Status::Ok();
}

Status FileHandle::StreamGapLocked(uint64_t n) {
  if (n < kMinHole) return StreamZerosLocked(n);
  stream_holes_.Add(streamed_, n);
  streamed_ += n;
  return Status::Ok();
}

Result<uint64_t> FileHandle::StoreHolesLocked(const Holes& next, uint64_t version) {
  if (next == holes_) return version;
  if (next.empty()) {
    SHOVEL_RETURN_IF_ERROR(client_->SetAttrs(id_, {}, {kAttrHoles}));
  } else {
    SHOVEL_RETURN_IF_ERROR(client_->SetAttrs(id_, {{kAttrHoles, next.Format()}}, {}));
  }
  holes_ = next;
  if (next.empty()) {
    base_.attrs.erase(kAttrHoles);
  } else {
    base_.attrs[kAttrHoles] = next.Format();
  }
  return client_->Append(id_, "");
}

Status FileHandle::GetBaseLocked(
    uint64_t off, uint64_t len,
    const std::function<Status(std::string_view)>& sink) const {
  return GetLogical(client_, id_, holes_, base_.size, off, len, sink);
}

Status FileHandle::CommitStreamLocked() {
  if (!stream_open_) return Status::Ok();
  uint64_t version;
  if (min_size_ > streamed_) {
    Status s = StreamGapLocked(min_size_ - streamed_);
    if (!s.ok()) {
      writer_.reset();
      stream_open_ = false;
      mode_ = Mode::kRead;
      return s;
    }
  }
  if (writer_) {
    Result<uint64_t> r = writer_->Commit();
    writer_.reset();
    stream_open_ = false;
    mode_ = Mode::kRead;
    if (!r.ok()) return r.status();
    version = *r;
  } else {
    stream_open_ = false;
    mode_ = Mode::kRead;
    SHOVEL_ASSIGN_OR_RETURN(version, client_->Set(id_, ""));
  }
  const Holes holes = std::exchange(stream_holes_, Holes());
  SHOVEL_ASSIGN_OR_RETURN(version, StoreHolesLocked(holes, version));
  AfterCommitLocked(version, streamed_, holes);
  return Status::Ok();
}

void FileHandle::AfterCommitLocked(uint64_t version, uint64_t size, const Holes& holes) {
  holes_ = holes;
  if (holes.empty()) {
    base_.attrs.erase(kAttrHoles);
  } else {
    base_.attrs[kAttrHoles] = holes.Format();
  }
  base_.exists = true;
  base_.size = keep_ = size_ = size;
  base_.version = committed_version_ = version;
  extents_.clear();
  punched_ = Holes();
  dirty_bytes_ = 0;
  dirty_ = false;
  fetches_.clear();
}

void FileHandle::PatchWriteLocked(uint64_t off, std::string_view data) {
  if (data.empty()) return;
  uint64_t end = off + data.size();
  whole_stream_ = false;
  fetches_.clear();
  dirty_ = true;
  size_ = std::max(size_, end);
  // Fast path: a sequential write extends the extent that ends where it starts.
  auto next = extents_.lower_bound(off);
  if (next != extents_.begin() && (next == extents_.end() || next->first > end)) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.size() == off) {
      prev->second.append(data);
      dirty_bytes_ += data.size();
      return;
    }
  }
  std::string merged(data);
  uint64_t start = off;
  // Merge every extent that overlaps or touches [off, end).
  auto it = extents_.upper_bound(off);
  if (it != extents_.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second.size() >= off) it = prev;
  }
  while (it != extents_.end() && it->first <= end) {
    uint64_t e_off = it->first;
    const std::string& e = it->second;
    uint64_t e_end = e_off + e.size();
    if (e_off < start) {
      merged.insert(0, e.substr(0, start - e_off));
      start = e_off;
    }
    if (e_end > end) {
      merged.append(e.substr(end - e_off));
      end = e_end;
    }
    dirty_bytes_ -= e.size();
    it = extents_.erase(it);
  }
  dirty_bytes_ += merged.size();
  extents_.emplace(start, std::move(merged));
  size_ = std::max(size_, end);
  dirty_ = true;
}

void FileHandle::PatchTruncateLocked(uint64_t size) {
  auto it = extents_.lower_bound(size);
  while (it != extents_.end()) {
    dirty_bytes_ -= it->second.size();
    it = extents_.erase(it);
  }
  if (it = extents_.lower_bound(size); it != extents_.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second.size() > size) {
      dirty_bytes_ -= prev->first + prev->second.size() - size;
      prev->second.resize(size - prev->first);
    }
  }
  keep_ = std::min(keep_, size);
  size_ = size;
  dirty_ = true;
  whole_stream_ = false;
  fetches_.clear();
}

Status FileHandle::Truncate(uint64_t size) {
  std::lock_guard lock(mu_);
  if (mode_ == Mode::kStream && stream_open_) {
    if (size >= streamed_) {
      min_size_ = size;
      return Status::Ok();
    }
    SHOVEL_RETURN_IF_ERROR(CommitStreamLocked());
  }
  if (size == size_ && !dirty_) return Status::Ok();
  PatchTruncateLocked(size);
  return Status::Ok();
}

Status FileHandle::CommitPatchLocked() {
  if (!dirty_) return Status::Ok();
  bool extends_only = keep_ == base_.size && punched_.empty() && extents_.size() == 1 &&
                      extents_.begin()->first == base_.size &&
                      size_ == base_.size + extents_.begin()->second.size();
  if (extends_only && base_.exists) {
    Result<uint64_t> r = client_->Append(id_, extents_.begin()->second);
    if (!r.ok()) {
      AfterCommitLocked(base_.version, base_.size, holes_);  // drop the failed bytes
      committed_version_ = 0;
      return r.status();
    }
    AfterCommitLocked(*r, size_, holes_);
    return Status::Ok();
  }
  Status s = GrowsOnlyLocked() ? AppendTailLocked() : RebuildLocked();
  if (!s.ok()) {
    AfterCommitLocked(base_.version, base_.size, Holes(holes_));
    committed_version_ = 0;
  }
  return s;
}

// Streams the new value: base bytes below keep_ (its holes stay holes),
// extents on top, and every other range as zeros: a hole when large.
Status FileHandle::RebuildLocked() {
  // The size hint lets the worker refuse at once a value it could never
  // hold; a value that may have holes gives none (its stored size is less).
  const bool may_be_sparse =
      !holes_.empty() || !punched_.empty() || size_ - std::min(size_, keep_) >= kMinHole;
  SHOVEL_ASSIGN_OR_RETURN(
      std::unique_ptr<Writer> w,
      client_->OpenWriter(id_, WriteMode::kSet, may_be_sparse ? 0 : size_));
  static const std::string kZeros(kZeroBlock, '\0');
  Holes next;
  uint64_t pos = 0;
  auto gap = [&](uint64_t len) -> Status {
    if (len >= kMinHole) {
      next.Add(pos, len);
      pos += len;
      return Status::Ok();
    }
    pos += len;
    return w->Write(std::string_view(kZeros).substr(0, len));
  };
  auto copy_until = [&](uint64_t end) -> Status {
    if (pos < std::min(end, keep_)) {
      for (const Holes::Piece& p : holes_.Split(pos, std::min(end, keep_) - pos)) {
        if (p.hole) {
          SHOVEL_RETURN_IF_ERROR(gap(p.len));
          continue;
        }
        // Stored bytes, less the ranges punched out of them.
        for (const Holes::Piece& q : punched_.Split(p.off, p.len)) {
          if (q.hole) {
            SHOVEL_RETURN_IF_ERROR(gap(q.len));
            continue;
          }
          uint64_t got = 0;
          SHOVEL_RETURN_IF_ERROR(client_->GetTo(id_, p.stored + (q.off - p.off), q.len,
                                                [&](std::string_view piece) -> Status {
                                                  got += piece.size();
                                                  return w->Write(piece);
                                                }));
          pos += std::min(got, q.len);
          if (got < q.len) SHOVEL_RETURN_IF_ERROR(gap(q.len - got));
        }
      }
    }
    return pos < end ? gap(end - pos) : Status::Ok();
  };
  for (const auto& [off, data] : extents_) {
    SHOVEL_RETURN_IF_ERROR(copy_until(off));
    SHOVEL_RETURN_IF_ERROR(w->Write(data));
    pos = off + data.size();
  }
  SHOVEL_RETURN_IF_ERROR(copy_until(size_));
  SHOVEL_ASSIGN_OR_RETURN(uint64_t version, w->Commit());
  SHOVEL_ASSIGN_OR_RETURN(version, StoreHolesLocked(next, version));
  AfterCommitLocked(version, size_, next);
  return Status::Ok();
}

// ---- flush and attributes ----

Status FileHandle::Flush() {
  std::lock_guard lock(mu_);
  if (mode_ == Mode::kAppend) {
    Status held = AppendHeldLocked({});
    Status earlier = std::exchange(append_error_, Status::Ok());
    if (!earlier.ok()) {
      return earlier.WithContext("an append of an earlier write(2) failed");
    }
    SHOVEL_RETURN_IF_ERROR(held);
  }
  bool committed = HasPendingDataLocked();
  if (mode_ == Mode::kStream && stream_open_ && !writer_ && min_size_ == 0) {
    // Nothing written yet (a shell's `>` closes a dup of the fd before the
    // writes): make the file exist, empty, and keep streaming from 0.
    if (!base_.exists || base_.size != 0) {
      SHOVEL_ASSIGN_OR_RETURN(uint64_t version, client_->Set(id_, ""));
      SHOVEL_ASSIGN_OR_RETURN(version, StoreHolesLocked(Holes(), version));
      AfterCommitLocked(version, 0, Holes());
    }
    return CommitAttrsLocked(committed);
  }
  Status s = mode_ == Mode::kStream ? CommitStreamLocked() : CommitPatchLocked();
  if (!s.ok()) {
    pending_attrs_ = {};
    has_pending_attrs_ = false;
    return s;
  }
  return CommitAttrsLocked(committed);
}

Status FileHandle::CommitAttrsLocked(bool data_committed) {
  StoredChange change = std::move(pending_attrs_);
  pending_attrs_ = {};
  has_pending_attrs_ = false;
  // A write makes the blob's own mtime current again.
  if (data_committed && base_.attrs.count(kAttrMtime) != 0 &&
      change.set.count(kAttrMtime) == 0) {
    change.drop.emplace_back(kAttrMtime);
  }
  if (change.set.empty() && change.drop.empty()) return Status::Ok();
  SHOVEL_RETURN_IF_ERROR(client_->SetAttrs(id_, change.set, change.drop));
  for (const auto& key : change.drop) base_.attrs.erase(key);
  for (const auto& [k, v] : change.set) base_.attrs[k] = v;
  return Status::Ok();
}

Status FileHandle::ChangeAttrs(const StoredChange& change) {
  std::lock_guard lock(mu_);
  if (!HasPendingDataLocked()) {
    SHOVEL_RETURN_IF_ERROR(client_->SetAttrs(id_, change.set, change.drop));
    for (const auto& key : change.drop) base_.attrs.erase(key);
    for (const auto& [k, v] : change.set) base_.attrs[k] = v;
    return Status::Ok();
  }
  for (const auto& key : change.drop) {
    pending_attrs_.set.erase(key);
    pending_attrs_.drop.push_back(key);
  }
  for (const auto& [k, v] : change.set) {
    std::erase(pending_attrs_.drop, k);
    pending_attrs_.set[k] = v;
  }
  has_pending_attrs_ = true;
  return Status::Ok();
}

// ---- reads ----

std::optional<uint64_t> FileHandle::Seek(uint64_t off, bool data) const {
  std::lock_guard lock(mu_);
  Holes none;
  const bool pending = HasPendingDataLocked();
  const Holes& holes = pending ? none : holes_;
  uint64_t size = base_.size;
  if (pending) {
    size =
        mode_ == Mode::kStream && stream_open_ ? std::max(streamed_, min_size_) : size_;
  }
  return data ? holes.NextData(off, size) : holes.NextHole(off, size);
}

Result<ReadData> FileHandle::Read(uint64_t off, uint64_t size) {
  std::unique_lock lock(mu_);
  if (mode_ == Mode::kStream && stream_open_) {
    SHOVEL_RETURN_IF_ERROR(CommitStreamLocked());
    whole_stream_ = false;  // the kernel may have cached what was read
  }
  if (dirty_) {
    SHOVEL_ASSIGN_OR_RETURN(std::string out, ReadPatchedLocked(off, size));
    return ReadData::Own(std::move(out));
  }
  if (mode_ == Mode::kAppend) {
    SHOVEL_RETURN_IF_ERROR(AppendHeldLocked({}));  // reads see its own writes
    if (holes_.empty()) {
      SHOVEL_ASSIGN_OR_RETURN(std::string out, client_->Get(id_, off, size));
      return ReadData::Own(std::move(out));
    }
    std::string out;
    SHOVEL_RETURN_IF_ERROR(GetBaseLocked(off, size, [&](std::string_view piece) {
      out.append(piece);
      return Status::Ok();
    }));
    return ReadData::Own(std::move(out));
  }
  return ReadCached(lock, off, size);
}

Result<std::string> FileHandle::ReadPatchedLocked(uint64_t off, uint64_t size) {
  if (off >= size_) return std::string();
  size = std::min(size, size_ - off);
  std::string out(size, '\0');
  if (off < keep_) {
    size_t at = 0;
    SHOVEL_RETURN_IF_ERROR(
        GetBaseLocked(off, std::min(size, keep_ - off), [&](std::string_view piece) {
          const size_t n = std::min(piece.size(), out.size() - at);
          out.replace(at, n, piece.substr(0, n));
          at += n;
          return Status::Ok();
        }));
  }
  for (const Holes::Piece& p : punched_.Split(off, size)) {
    if (p.hole) out.replace(p.off - off, p.len, p.len, '\0');
  }
  for (const auto& [e_off, data] : extents_) {
    uint64_t e_end = e_off + data.size();
    if (e_end <= off || e_off >= off + size) continue;
    uint64_t from = std::max(e_off, off);
    uint64_t to = std::min(e_end, off + size);
    out.replace(from - off, to - from, data, from - e_off, to - from);
  }
  return out;
}

void FileHandle::SeedBlock(uint64_t off, std::string data, bool eof) {
  std::lock_guard lock(mu_);
  std::promise<Result<Bytes>> p;
  uint64_t len = data.size();
  // A block that ends the blob answers every read past it too.
  if (eof) len = UINT64_MAX - off;
  if (len == 0) return;
  p.set_value(Bytes(std::make_shared<const std::string>(std::move(data))));
  fetches_[off] = Fetch{off, len, p.get_future().share()};
}

void FileHandle::StartReadAhead(uint64_t off, uint64_t len) {
  std::lock_guard lock(mu_);
  if (tasks_ == nullptr || len == 0 || BlockAtLocked(off) != nullptr) return;
  auto next = fetches_.upper_bound(off);
  if (next != fetches_.end()) len = std::min(len, next->first - off);
  tasks_->Post(IssueLocked(off, len));
}

std::function<void()> FileHandle::IssueLocked(uint64_t off, uint64_t len) {
  auto done = std::make_shared<std::promise<Result<Bytes>>>();
  // A block that reaches the end of the blob as the handle knows it answers
  // every read past it too (as a seeded last block does).
  const uint64_t cover = base_.exists && off + len >= base_.size ? UINT64_MAX - off : len;
  fetches_[off] = Fetch{off, cover, done->get_future().share()};
  return [client = client_, pool = pool_, id = id_, holes = holes_, size = base_.size,
          off, len, done] {
    // Small blocks (random reads) would crowd the pool's large buffers out.
    std::shared_ptr<std::string> buf = pool != nullptr && len >= kPooledBlock
                                           ? pool->Take(len)
                                           : std::make_shared<std::string>();
    Status s = GetLogical(client, id, holes, size, off, len, [&](std::string_view piece) {
      buf->append(piece);
      return Status::Ok();
    });
    if (s.ok()) {
      done->set_value(Bytes(std::move(buf)));
    } else {
      done->set_value(s);
    }
  };
}

const FileHandle::Fetch* FileHandle::BlockAtLocked(uint64_t off) const {
  auto it = fetches_.upper_bound(off);
  if (it == fetches_.begin()) return nullptr;
  auto prev = std::prev(it);
  return off - prev->first < prev->second.len ? &prev->second : nullptr;
}

void FileHandle::FetchAheadLocked(uint64_t from, uint64_t window) {
  if (tasks_ == nullptr || window == 0) return;
  uint64_t until = from + window;
  if (base_.exists) until = std::min(until, base_.size);
  // Like the kernel's read-ahead marker: top up only once less than half
  // the window is left fetched or in flight, then fill it in large pieces.
  uint64_t pos = from;
  while (pos < until) {
    const Fetch* b = BlockAtLocked(pos);
    if (b == nullptr) break;
    if (b->len >= UINT64_MAX - b->off) return;  // the block ends the blob
    pos = b->off + b->len;
  }
  if (pos >= until || pos - from >= window / 2) return;
  const uint64_t piece = std::max<uint64_t>(limits_.readahead / 2, window / 2);
  while (pos < until) {
    auto next = fetches_.upper_bound(pos);
    uint64_t len = std::min(until - pos, piece);
    if (next != fetches_.end()) len = std::min(len, next->first - pos);
    if (len == 0) {  // a block starts here already: skip past it
      pos = next->first + next->second.len;
      continue;
    }
    tasks_->Post(IssueLocked(pos, len));
    pos += len;
  }
}

void FileHandle::DropBlocksLocked(std::vector<Fetch>* dead) {
  for (auto& [off, f] : fetches_) dead->push_back(std::move(f));
  fetches_.clear();
}

Result<ReadData> FileHandle::ReadCached(std::unique_lock<std::mutex>& lock, uint64_t off,
                                        uint64_t size) {
  return ReadBlocks(lock, off, size, read_ahead_.OnRead(off, size));
}

Result<ReadData> FileHandle::ReadBlocks(std::unique_lock<std::mutex>& lock, uint64_t off,
                                        uint64_t size, uint64_t window) {
  std::vector<Fetch> dead;
  const Fetch* held = BlockAtLocked(off);
  if (held == nullptr && window == 0) {
    // Random access: fetch what is read (and the frames around it), on this
    // thread, in one buffer (an in-process worker's reply as it is: no
    // copy), and keep nothing.
    std::string id = id_;
    const Holes holes = holes_;
    const uint64_t file_size = base_.size;
    const uint64_t version = base_.version;
    uint64_t from = off, to = off + size;
    const uint64_t ra = limits_.read_around;
    if (ra != 0 && mode_ == Mode::kRead && base_.exists && version != 0 &&
        off < file_size) {
      from = off / ra * ra;
      to = std::max(to, std::min(file_size, (off + size + ra - 1) / ra * ra));
    }
    const bool around = from < off || to > off + size;
    lock.unlock();
    SHOVEL_ASSIGN_OR_RETURN(
        shovel::Bytes got,
        GetLogicalBytes(client_, id, holes, file_size, from, to - from));
    const std::string_view all = got.view();
    ReadData r;
    r.owner = std::make_shared<const shovel::Bytes>(std::move(got));
    const uint64_t in = off - from;
    if (in < all.size())
      r.bytes = all.substr(in, std::min<uint64_t>(size, all.size() - in));
    if (!around) return r;
    r.around = all;
    r.around_off = from;
    r.version = version;
    return r;
  }
  std::function<void()> demand;
  if (held == nullptr) {
    uint64_t len = size;
    auto next = fetches_.upper_bound(off);
    if (next != fetches_.end()) len = std::min(len, next->first - off);
    demand = IssueLocked(off, len);
    held = BlockAtLocked(off);
  }
  Fetch f = *held;
  if (window != 0) {
    FetchAheadLocked(off + size, window);
    // Blocks well behind a sequential reader are done with.
    while (!fetches_.empty() && fetches_.begin()->first < f.off &&
           fetches_.begin()->first + fetches_.begin()->second.len + limits_.readahead <=
               off) {
      dead.push_back(std::move(fetches_.begin()->second));
      fetches_.erase(fetches_.begin());
    }
  }
  if (fetches_.size() > 2 * limits_.readahead_blocks + 8) {  // random: start over
    DropBlocksLocked(&dead);
    fetches_[f.off] = f;
  }
  lock.unlock();
  dead.clear();
  if (demand) demand();  // on this thread: a read never waits for the pool
  Result<Bytes> r = f.result.get();
  if (!r.ok()) {
    lock.lock();
    auto it = fetches_.find(f.off);
    if (it != fetches_.end() && it->second.result.valid()) fetches_.erase(it);
    return r.status();
  }
  const Bytes& b = *r;
  uint64_t in = off - f.off;
  bool short_block = b->size() < f.len;  // the blob ends inside this block
  if (in >= b->size()) return ReadData{};
  uint64_t n = std::min<uint64_t>(size, b->size() - in);
  ReadData out{b, std::string_view(*b).substr(in, n)};
  if (n == size || short_block) return out;
  // The read crosses into the next block: join the two.
  std::string joined(out.bytes);
  lock.lock();
  SHOVEL_ASSIGN_OR_RETURN(ReadData rest,
                          ReadBlocks(lock, f.off + b->size(), size - n, window));
  joined.append(rest.bytes);
  return ReadData::Own(std::move(joined));
}

}  // namespace shovel::fs
