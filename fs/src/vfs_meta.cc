// Vfs: directory listings, statfs and extended attributes.
#include <cstdio>
#include <unordered_set>
#include <utility>

#include "shovel/fs/errors.h"
#include "shovel/fs/paths.h"
#include "shovel/fs/vfs.h"

namespace shovel::fs {
namespace {

constexpr uint32_t kListPage = 1000;
constexpr size_t kMaxXattrValue = 64 * 1024;
constexpr std::string_view kUserNs = "user.";
constexpr std::string_view kShovelNs = "user.shovel.";
constexpr std::string_view kScore = "score.";

bool StartsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

std::string XattrKey(std::string_view name) {
  return std::string(kAttrXattrPrefix) + std::string(name);
}

}  // namespace

// One opendir: the entries fetched so far, and where List continues.
struct Vfs::DirHandle {
  std::mutex mu;  // guards the fields below
  std::string path;
  std::string prefix;
  std::vector<DirEntry> entries;
  std::unordered_set<std::string> files;  // to hide a same-named directory
  std::string cursor;
  bool done = false;
};

Result<uint64_t> Vfs::OpenDir(uint64_t ino) {
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo info, DirNode(ino));
  auto d = std::make_shared<DirHandle>();
  d->path = info.path;
  d->prefix = DirPrefix(info.path);
  d->entries.push_back({".", true, 1});
  d->entries.push_back({"..", true, 2});
  std::lock_guard lock(dirs_mu_);
  uint64_t fh = next_dir_++;
  dirs_.emplace(fh, std::move(d));
  return fh;
}

Result<std::vector<DirEntry>> Vfs::ReadDir(uint64_t fh, uint64_t offset, size_t max) {
  std::shared_ptr<DirHandle> d;
  {
    std::lock_guard lock(dirs_mu_);
    auto it = dirs_.find(fh);
    if (it == dirs_.end()) return MakeFsError(FsError::kBadHandle, "readdir");
    d = it->second;
  }
  std::lock_guard lock(d->mu);
  while (!d->done && d->entries.size() < offset + max) {
    SHOVEL_ASSIGN_OR_RETURN(ListPage page,
                            client_->List(d->prefix, d->cursor, kListPage, true));
    for (std::string& name : page.ids) {
      bool is_dir = !name.empty() && name.back() == '/';
      if (is_dir) name.pop_back();
      if (name.empty() || IsReservedName(d->path, name)) continue;
      if (is_dir && d->files.count(name) != 0) continue;
      if (!is_dir) d->files.insert(name);
      d->entries.push_back({std::move(name), is_dir, d->entries.size() + 1});
    }
    d->cursor = std::move(page.next_cursor);
    d->done = d->cursor.empty();
  }
  std::vector<DirEntry> out;
  for (size_t i = offset; i < d->entries.size() && out.size() < max; ++i) {
    DirEntry& e = d->entries[i];
    if (!e.is_dir && !e.typed) {
      // The listing names the file; its kind (symlink, FIFO...) is stored
      // with it. A failed Stat (removed meanwhile) leaves it unknown.
      e.typed = true;
      Result<std::string> id = ChildId(d->path, e.name);
      Result<BlobStat> st = id.ok() ? client_->Stat(*id) : Result<BlobStat>(id.status());
      if (st.ok()) e.type = AttrFromStat(*st, false, options_.owner).type;
    }
    out.push_back(e);
  }
  return out;
}

void Vfs::ReleaseDir(uint64_t fh) {
  std::lock_guard lock(dirs_mu_);
  dirs_.erase(fh);
}

Result<FsStats> Vfs::StatFs() {
  SHOVEL_ASSIGN_OR_RETURN(std::vector<NodeInfo> nodes, client_->Members());
  FsStats out;
  for (const NodeInfo& n : nodes) {
    out.total_bytes += n.mem_limit;
    out.used_bytes += n.mem_used;
    out.ids += n.ids;
  }
  return out;
}

Result<std::string> Vfs::GetXattr(uint64_t ino, std::string_view name) {
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo info, Node(ino));
  const std::string where = info.is_dir ? MarkerId(info.path) : info.path;
  auto missing = [&] {
    return MakeFsError(FsError::kNoAttribute, "'" + std::string(name) + "'");
  };
  if (!StartsWith(name, kUserNs)) return missing();
  if (StartsWith(name, kShovelNs) && !info.is_dir) {
    std::string_view key = name.substr(kShovelNs.size());
    if (key == "node_ids") {
      SHOVEL_ASSIGN_OR_RETURN(std::vector<std::string> ids, client_->NodeIds(where));
      std::string out;
      for (const std::string& id : ids) out += (out.empty() ? "" : ",") + id;
      return out;
    }
    if (key == "node_id") return client_->NodeId(where);
    if (StartsWith(key, kScore)) {
      Result<std::optional<double>> score =
          client_->NodeCacheScore(key.substr(kScore.size()), where);
      if (!score.ok()) return score.status().IsNotFound() ? missing() : score.status();
      if (!score->has_value()) return std::string("unknown");
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", **score);
      return std::string(buf);
    }
    SHOVEL_ASSIGN_OR_RETURN(BlobStat st, client_->Stat(where));
    if (key == "version") return std::to_string(st.version);
    if (key == "stored_bytes") return std::to_string(st.stored_bytes);
    if (key == "pinned") return std::string(st.pinned ? "1" : "0");
    return missing();
  }
  if (auto h = PendingHandle(ino)) {
    if (auto view = h->PendingView()) {
      auto it = view->attrs.find(XattrKey(name));
      if (it == view->attrs.end()) return missing();
      return it->second;
    }
  }
  Result<BlobStat> st = client_->Stat(where);
  if (!st.ok()) return st.status().IsNotFound() && info.is_dir ? missing() : st.status();
  auto it = st->attrs.find(XattrKey(name));
  if (it == st->attrs.end()) return missing();
  return it->second;
}

Result<std::vector<std::string>> Vfs::ListXattr(uint64_t ino) {
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo info, Node(ino));
  std::vector<std::string> names;
  Result<BlobStat> st = client_->Stat(info.is_dir ? MarkerId(info.path) : info.path);
  if (!st.ok()) {
    if (st.status().IsNotFound() && (info.is_dir || PendingHandle(ino))) return names;
    return st.status();
  }
  if (!info.is_dir) {
    for (const char* key : {"node_ids", "node_id", "version", "stored_bytes", "pinned"}) {
      names.push_back(std::string(kShovelNs) + key);
    }
    SHOVEL_ASSIGN_OR_RETURN(std::vector<NodeInfo> nodes, client_->Members());
    for (const NodeInfo& n : nodes) {
      if (n.healthy) names.push_back(std::string(kShovelNs) + "score." + n.node_id);
    }
  }
  for (const auto& [key, value] : st->attrs) {
    if (StartsWith(key, kAttrXattrPrefix)) {
      names.push_back(key.substr(std::string_view(kAttrXattrPrefix).size()));
    }
  }
  return names;
}

Status Vfs::SetXattr(uint64_t ino, std::string_view name, std::string_view value,
                     XattrSetMode mode) {
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo info, Node(ino));
  if (StartsWith(name, kShovelNs)) {
    std::string msg = "'" + std::string(name) +
                      "' is computed by shovelfs from the cache and cannot be set";
    Warn("setxattr refused: " + msg);
    return MakeFsError(FsError::kReadOnly, msg);
  }
  if (!StartsWith(name, kUserNs) || name.size() == kUserNs.size()) {
    return MakeFsError(
        FsError::kNotSupported,
        "only user.* extended attributes are stored, not '" + std::string(name) + "'");
  }
  if (value.size() > kMaxXattrValue) {
    return MakeFsError(FsError::kTooBig, "xattr values are at most 64 KiB");
  }
  if (mode != XattrSetMode::kAny) {
    Result<std::string> old = GetXattr(ino, name);
    if (!old.ok() && FsErrorOf(old.status()) != FsError::kNoAttribute) {
      return old.status();
    }
    if (mode == XattrSetMode::kCreate && old.ok()) {
      return MakeFsError(FsError::kExists, "attribute '" + std::string(name) + "'");
    }
    if (mode == XattrSetMode::kReplace && !old.ok()) return old.status();
  }
  StoredChange change;
  change.set[XattrKey(name)] = std::string(value);
  return ChangeStored(info, ino, std::nullopt, change);
}

Status Vfs::RemoveXattr(uint64_t ino, std::string_view name) {
  SHOVEL_ASSIGN_OR_RETURN(InodeInfo info, Node(ino));
  if (StartsWith(name, kShovelNs)) {
    Warn("removexattr refused: '" + std::string(name) + "' is read-only");
    return MakeFsError(FsError::kReadOnly, "'" + std::string(name) + "' is read-only");
  }
  SHOVEL_RETURN_IF_ERROR(GetXattr(ino, name).status());
  StoredChange change;
  change.drop.push_back(XattrKey(name));
  return ChangeStored(info, ino, std::nullopt, change);
}

}  // namespace shovel::fs
