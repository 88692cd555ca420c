#include "fake_client.h"

#include <algorithm>
#include <chrono>

#include "shovel/ids.h"

namespace shovel::fs::testing {
namespace {

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class FakeWriter : public Writer {
 public:
  FakeWriter(FakeClient* c, std::string id, bool append, FakeClient::Counters* n)
      : client_(c), id_(std::move(id)), append_(append), counters_(n) {}
  Status Write(std::string_view data) override {
    if (done_) return Status::Internal("write after commit");
    counters_->writer_writes++;
    uint64_t prev = counters_->largest_write.load();
    while (data.size() > prev &&
           !counters_->largest_write.compare_exchange_weak(prev, data.size())) {
    }
    buf_.append(data);
    return Status::Ok();
  }
  Result<uint64_t> Commit() override {
    if (done_) return Status::Internal("commit twice");
    done_ = true;
    counters_->commits++;
    return client_->CommitValue(id_, std::move(buf_), append_);
  }
  void Abort() override { done_ = true; }

 private:
  FakeClient* client_;
  std::string id_;
  bool append_;
  FakeClient::Counters* counters_;
  std::string buf_;
  bool done_ = false;
};

}  // namespace

Status FakeClient::Check(std::string_view id) const {
  if (down_) return Status::Unavailable("fake cluster is down");
  return ValidateId(id);
}

uint64_t FakeClient::UsedLocked() const {
  uint64_t used = 0;
  for (const auto& [id, b] : blobs_) used += b.data.size();
  return used;
}

Result<uint64_t> FakeClient::CommitValue(const std::string& id, std::string data,
                                         bool append) {
  SHOVEL_RETURN_IF_ERROR(Check(id));
  std::lock_guard lock(mu_);
  auto it = blobs_.find(id);
  uint64_t old = it == blobs_.end() ? 0 : it->second.data.size();
  uint64_t next = append ? old + data.size() : data.size();
  if (UsedLocked() - old + next > max_bytes_) {
    return Status::NoSpace("fake limit " + std::to_string(max_bytes_.load()));
  }
  Blob& b = blobs_[id];
  if (b.version == 0) b.ctime_ns = Now();
  if (append) {
    b.data.append(data);
  } else {
    b.data = std::move(data);
  }
  b.mtime_ns = Now();
  b.version = next_version_++;
  return b.version;
}

Result<uint64_t> FakeClient::Set(std::string_view id, std::string_view data) {
  counters_.sets++;
  return CommitValue(std::string(id), std::string(data), false);
}

Result<uint64_t> FakeClient::Append(std::string_view id, std::string_view data) {
  counters_.appends++;
  return CommitValue(std::string(id), std::string(data), true);
}

Result<std::string> FakeClient::Get(std::string_view id, uint64_t offset,
                                    uint64_t length) {
  SHOVEL_ASSIGN_OR_RETURN(VersionedBytes v, GetWithVersion(id, offset, length));
  return std::move(v.data);
}

Result<VersionedBytes> FakeClient::GetWithVersion(std::string_view id, uint64_t offset,
                                                  uint64_t length) {
  SHOVEL_RETURN_IF_ERROR(Check(id));
  counters_.gets++;
  std::lock_guard lock(mu_);
  auto it = blobs_.find(id);
  if (it == blobs_.end()) return Status::NotFound("id '" + std::string(id) + "'");
  const std::string& d = it->second.data;
  VersionedBytes out;
  if (offset < d.size()) out.data = d.substr(offset, length);
  counters_.got_bytes += out.data.size();
  out.version = it->second.version;
  out.size = d.size();
  return out;
}

Status FakeClient::GetTo(std::string_view id, uint64_t offset, uint64_t length,
                         const std::function<Status(std::string_view)>& sink) {
  SHOVEL_ASSIGN_OR_RETURN(std::string data, Get(id, offset, length));
  for (size_t pos = 0; pos < data.size(); pos += 1 << 16) {
    SHOVEL_RETURN_IF_ERROR(sink(std::string_view(data).substr(pos, 1 << 16)));
  }
  return Status::Ok();
}

Result<std::unique_ptr<Writer>> FakeClient::OpenWriter(std::string_view id,
                                                       WriteMode mode, uint64_t) {
  SHOVEL_RETURN_IF_ERROR(Check(id));
  return std::unique_ptr<Writer>(
      new FakeWriter(this, std::string(id), mode == WriteMode::kAppend, &counters_));
}

Status FakeClient::Init(const std::vector<std::string>& ids, InitStrategy,
                        const ProgressFn&) {
  for (const auto& id : ids) {
    SHOVEL_RETURN_IF_ERROR(Check(id));
    std::lock_guard lock(mu_);
    Blob& b = blobs_[id];
    if (b.version == 0) b.version = next_version_++;
    b.pinned = true;
  }
  return Status::Ok();
}

Result<std::vector<std::string>> FakeClient::NodeIds(std::string_view id) {
  SHOVEL_ASSIGN_OR_RETURN(bool exists, Exists(id));
  if (!exists) return Status::NotFound("id '" + std::string(id) + "'");
  return std::vector<std::string>{"fake-node"};
}

Result<std::string> FakeClient::NodeId(std::string_view id, std::string_view) {
  SHOVEL_ASSIGN_OR_RETURN(std::vector<std::string> ids, NodeIds(id));
  return ids.front();
}

Result<std::optional<double>> FakeClient::NodeCacheScore(std::string_view node,
                                                         std::string_view id) {
  SHOVEL_RETURN_IF_ERROR(NodeIds(id).status());
  if (node != "fake-node") return Status::NotFound("no node '" + std::string(node) + "'");
  return std::optional<double>(0.0);
}

Status FakeClient::Delete(std::string_view id) {
  SHOVEL_RETURN_IF_ERROR(Check(id));
  std::lock_guard lock(mu_);
  auto it = blobs_.find(id);
  if (it == blobs_.end()) return Status::NotFound("id '" + std::string(id) + "'");
  blobs_.erase(it);
  return Status::Ok();
}

Result<BlobStat> FakeClient::Stat(std::string_view id) {
  SHOVEL_RETURN_IF_ERROR(Check(id));
  counters_.stats++;
  std::lock_guard lock(mu_);
  auto it = blobs_.find(id);
  if (it == blobs_.end()) return Status::NotFound("id '" + std::string(id) + "'");
  const Blob& b = it->second;
  BlobStat st;
  st.id = std::string(id);
  st.size = st.stored_bytes = b.data.size();
  st.version = b.version;
  st.ctime_ns = b.ctime_ns;
  st.mtime_ns = st.atime_ns = b.mtime_ns;
  st.pinned = b.pinned;
  st.holders = {"fake-node"};
  st.attrs = b.attrs;
  return st;
}

Result<NameInfo> FakeClient::StatName(std::string_view id) {
  SHOVEL_RETURN_IF_ERROR(Check(id));
  counters_.stat_names++;
  NameInfo out;
  {
    std::lock_guard lock(mu_);
    std::string under = std::string(id) + "/";
    auto it = blobs_.lower_bound(under);
    out.has_children =
        it != blobs_.end() && it->first.compare(0, under.size(), under) == 0;
    if (blobs_.find(id) == blobs_.end()) return out;
  }
  counters_.stats--;  // Stat below counts itself; this is one call
  Result<BlobStat> st = Stat(id);
  if (st.ok()) out.stat = *std::move(st);
  return out;
}

Result<bool> FakeClient::Exists(std::string_view id) {
  SHOVEL_RETURN_IF_ERROR(Check(id));
  std::lock_guard lock(mu_);
  return blobs_.find(id) != blobs_.end();
}

Result<ListPage> FakeClient::List(std::string_view prefix, std::string_view cursor,
                                  uint32_t limit, bool delimiter) {
  if (down_) return Status::Unavailable("fake cluster is down");
  counters_.lists++;
  std::lock_guard lock(mu_);
  ListPage page;
  // The cursor is the next key to read (inclusive).
  auto it = blobs_.lower_bound(cursor.empty() ? prefix : cursor);
  while (it != blobs_.end() && it->first.compare(0, prefix.size(), prefix) == 0) {
    if (page.ids.size() == limit) {
      page.next_cursor = it->first;
      break;
    }
    std::string name = delimiter ? it->first.substr(prefix.size()) : it->first;
    size_t slash = delimiter ? name.find('/') : std::string::npos;
    if (slash == std::string::npos) {
      page.ids.push_back(std::move(name));
      ++it;
      continue;
    }
    name.resize(slash + 1);
    // Skip the whole sub-namespace: the next key after "<prefix><name>/...".
    std::string after = std::string(prefix) + name.substr(0, slash) + "0";
    page.ids.push_back(std::move(name));
    it = blobs_.lower_bound(after);
  }
  return page;
}

Status FakeClient::Rename(std::string_view from, std::string_view to) {
  SHOVEL_RETURN_IF_ERROR(Check(from));
  SHOVEL_RETURN_IF_ERROR(Check(to));
  std::lock_guard lock(mu_);
  auto it = blobs_.find(from);
  if (it == blobs_.end()) return Status::NotFound("id '" + std::string(from) + "'");
  Blob b = std::move(it->second);
  blobs_.erase(it);
  b.version = next_version_++;
  blobs_[std::string(to)] = std::move(b);
  return Status::Ok();
}

Status FakeClient::SetAttrs(std::string_view id,
                            const std::map<std::string, std::string>& set,
                            const std::vector<std::string>& drop) {
  SHOVEL_RETURN_IF_ERROR(Check(id));
  std::lock_guard lock(mu_);
  auto it = blobs_.find(id);
  if (it == blobs_.end()) return Status::NotFound("id '" + std::string(id) + "'");
  for (const auto& k : drop) it->second.attrs.erase(k);
  for (const auto& [k, v] : set) it->second.attrs[k] = v;
  return Status::Ok();
}

std::vector<Result<uint64_t>> FakeClient::MultiSet(
    const std::vector<std::pair<std::string, std::string>>& items) {
  std::vector<Result<uint64_t>> out;
  for (const auto& [id, data] : items) out.push_back(Set(id, data));
  return out;
}

std::vector<Result<std::string>> FakeClient::MultiGet(
    const std::vector<std::string>& ids) {
  std::vector<Result<std::string>> out;
  for (const auto& id : ids) out.push_back(Get(id, 0, kWholeBlob));
  return out;
}

Result<std::vector<NodeInfo>> FakeClient::Members() {
  if (down_) return Status::Unavailable("fake cluster is down");
  std::lock_guard lock(mu_);
  NodeInfo n;
  n.node_id = "fake-node";
  n.endpoint = "inproc://fake";
  n.mem_limit = max_bytes_ == UINT64_MAX ? (1ull << 30) : max_bytes_.load();
  n.mem_used = UsedLocked();
  n.ids = blobs_.size();
  return std::vector<NodeInfo>{n};
}

}  // namespace shovel::fs::testing
