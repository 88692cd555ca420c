// File attributes as shovelfs shows them, and how they are stored with an id.
//
// Stored attribute keys (Client::SetAttrs; all values are text):
//   "mode"  permission bits in octal ("644"), "uid", "gid" decimal,
//   "atime", "mtime" nanoseconds since the epoch (set by utimens; a write
//   drops "mtime" so the blob's own write time shows again),
//   "xattr.<name>" the value of extended attribute <name> (user.* only),
//   "type" the kind of a file that is not a regular file: "symlink" (the
//   blob's bytes are the link's target), "fifo", "socket", "char", "block"
//   (the blob is empty), "rdev" the device number of "char"/"block", decimal,
//   "ctime" nanoseconds: the last attribute change (chmod, chown, utimens),
//   when later than the blob's own change time,
//   "nlink" the number of names of a hard-linked file (on its data id),
//   "type" "link" with "data" <id>: a name of a hard-linked file, whose
//   bytes and attributes are those of the data id (see vfs_links.cc).
// A key is stored only when it differs from the default (0644 files, 0755
// directories, owned by the mounting user), so plain files cost no extra
// call. Pure values and functions; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "shovel/client.h"

namespace shovel::fs {

inline constexpr char kAttrMode[] = "mode";
inline constexpr char kAttrUid[] = "uid";
inline constexpr char kAttrGid[] = "gid";
inline constexpr char kAttrAtime[] = "atime";
inline constexpr char kAttrMtime[] = "mtime";
inline constexpr char kAttrCtime[] = "ctime";
inline constexpr char kAttrType[] = "type";
inline constexpr char kAttrRdev[] = "rdev";
inline constexpr char kAttrNlink[] = "nlink";
inline constexpr char kAttrLinkData[] = "data";
inline constexpr char kLinkType[] = "link";  // "type" of a hard link's name
inline constexpr char kAttrXattrPrefix[] = "xattr.";

// What a non-directory is. Stored as the "type" key (none: kRegular).
enum class FileType { kRegular, kSymlink, kFifo, kSocket, kCharDevice, kBlockDevice };
// "symlink", "fifo"...; "" for kRegular.
const char* FileTypeName(FileType type);

struct Owner {
  uint32_t uid = 0;
  uint32_t gid = 0;
};

struct Attr {
  uint64_t ino = 0;
  uint64_t generation = 0;
  bool is_dir = false;
  FileType type = FileType::kRegular;  // of a non-directory
  uint64_t rdev = 0;                   // kCharDevice, kBlockDevice
  // Names of the file: 1 (or the hard link count); 0 once unlinked while
  // open. A directory: 2 + its subdirectories.
  uint32_t nlink = 1;
  uint32_t perm = 0644;  // permission bits (07777)
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;
  uint64_t hole_bytes = 0;  // of `size`, in holes (holes.h): not counted in st_blocks
  int64_t atime_ns = 0, mtime_ns = 0, ctime_ns = 0;
};

// A change requested by chmod/chown/utimens/truncate; unset fields stay.
struct AttrChange {
  std::optional<uint32_t> perm;
  std::optional<uint32_t> uid, gid;
  std::optional<uint64_t> size;
  std::optional<int64_t> atime_ns, mtime_ns;  // already resolved from "now"
  // When the change is made (stored as "ctime" with any stored change).
  int64_t now_ns = 0;
};

// The attribute of a file or directory from its blob's Stat (for a
// directory: its marker's), with defaults for what is not stored.
Attr AttrFromStat(const BlobStat& st, bool is_dir, const Owner& owner);
// Defaults for a directory without a marker, or a file not yet committed.
Attr DefaultAttr(bool is_dir, const Owner& owner, int64_t now_ns);
// Applies stored keys (mode, uid, gid, times) over `attr`.
void ApplyStoredAttrs(const std::map<std::string, std::string>& attrs, Attr* attr);

// The stored keys for `change` (size excluded): keys to set, and keys to
// drop because they returned to the default.
struct StoredChange {
  std::map<std::string, std::string> set;
  std::vector<std::string> drop;
};
StoredChange StoredKeys(const AttrChange& change, bool is_dir, const Owner& owner);

int64_t NowNs();

}  // namespace shovel::fs
