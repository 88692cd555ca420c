#include "shovel/fs/attr.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "shovel/fs/holes.h"

namespace shovel::fs {
namespace {

uint32_t DefaultPerm(bool is_dir) { return is_dir ? 0755 : 0644; }

bool ParseU64(const std::string& text, int base, uint64_t* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, base);
  if (end == nullptr || *end != '\0') return false;
  *out = v;
  return true;
}

std::string Octal(uint32_t perm) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%o", perm & 07777);
  return buf;
}

struct TypeName {
  FileType type;
  const char* name;
};
constexpr TypeName kTypeNames[] = {
    {FileType::kSymlink, "symlink"},   {FileType::kFifo, "fifo"},
    {FileType::kSocket, "socket"},     {FileType::kCharDevice, "char"},
    {FileType::kBlockDevice, "block"},
};

}  // namespace

const char* FileTypeName(FileType type) {
  for (const TypeName& t : kTypeNames) {
    if (t.type == type) return t.name;
  }
  return "";
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Attr DefaultAttr(bool is_dir, const Owner& owner, int64_t now_ns) {
  Attr a;
  a.is_dir = is_dir;
  a.perm = DefaultPerm(is_dir);
  a.nlink = is_dir ? 2 : 1;  // a directory without subdirectories
  a.uid = owner.uid;
  a.gid = owner.gid;
  a.atime_ns = a.mtime_ns = a.ctime_ns = now_ns;
  return a;
}

void ApplyStoredAttrs(const std::map<std::string, std::string>& attrs, Attr* attr) {
  uint64_t v;
  for (const auto& [key, value] : attrs) {
    if (key == kAttrMode && ParseU64(value, 8, &v)) {
      attr->perm = static_cast<uint32_t>(v & 07777);
    } else if (key == kAttrUid && ParseU64(value, 10, &v)) {
      attr->uid = static_cast<uint32_t>(v);
    } else if (key == kAttrGid && ParseU64(value, 10, &v)) {
      attr->gid = static_cast<uint32_t>(v);
    } else if (key == kAttrAtime && ParseU64(value, 10, &v)) {
      attr->atime_ns = static_cast<int64_t>(v);
    } else if (key == kAttrMtime && ParseU64(value, 10, &v)) {
      attr->mtime_ns = static_cast<int64_t>(v);
    } else if (key == kAttrCtime && ParseU64(value, 10, &v)) {
      attr->ctime_ns = std::max(attr->ctime_ns, static_cast<int64_t>(v));
    } else if (key == kAttrRdev && ParseU64(value, 10, &v)) {
      attr->rdev = v;
    } else if (key == kAttrNlink && ParseU64(value, 10, &v) && !attr->is_dir) {
      attr->nlink = static_cast<uint32_t>(v);
    } else if (key == kAttrType && !attr->is_dir) {
      for (const TypeName& t : kTypeNames) {
        if (value == t.name) attr->type = t.type;
      }
    }
  }
  // A symlink's permissions are not used; Linux shows them all.
  if (attr->type == FileType::kSymlink && attrs.count(kAttrMode) == 0) attr->perm = 0777;
}

Attr AttrFromStat(const BlobStat& st, bool is_dir, const Owner& owner) {
  Attr a = DefaultAttr(is_dir, owner, st.mtime_ns);
  if (!is_dir) {
    const Holes holes = Holes::FromAttrs(st.attrs);
    a.size = holes.LogicalSize(st.size);
    a.hole_bytes = std::min(holes.total(), a.size);
  }
  a.ctime_ns = st.ctime_ns > st.mtime_ns ? st.ctime_ns : st.mtime_ns;
  a.atime_ns = st.atime_ns != 0 ? st.atime_ns : st.mtime_ns;
  ApplyStoredAttrs(st.attrs, &a);
  return a;
}

StoredChange StoredKeys(const AttrChange& change, bool is_dir, const Owner& owner) {
  StoredChange out;
  auto put = [&out](const char* key, bool is_default, std::string value) {
    if (is_default) {
      out.drop.emplace_back(key);
    } else {
      out.set[key] = std::move(value);
    }
  };
  if (change.perm) {
    uint32_t perm = *change.perm & 07777;
    put(kAttrMode, perm == DefaultPerm(is_dir), Octal(perm));
  }
  if (change.uid) put(kAttrUid, *change.uid == owner.uid, std::to_string(*change.uid));
  if (change.gid) put(kAttrGid, *change.gid == owner.gid, std::to_string(*change.gid));
  if (change.atime_ns) out.set[kAttrAtime] = std::to_string(*change.atime_ns);
  if (change.mtime_ns) out.set[kAttrMtime] = std::to_string(*change.mtime_ns);
  if (change.now_ns != 0 && (!out.set.empty() || !out.drop.empty())) {
    out.set[kAttrCtime] = std::to_string(change.now_ns);
  }
  return out;
}

}  // namespace shovel::fs
