#include "shovel/fs/paths.h"

#include "shovel/fs/errors.h"
#include "shovel/ids.h"

namespace shovel::fs {

Result<std::string> ChildId(std::string_view dir, std::string_view name) {
  if (name.size() > kMaxNameBytes) {
    return MakeFsError(
        FsError::kNameTooLong,
        "a name is at most 255 bytes, this one has " + std::to_string(name.size()));
  }
  if (IsReservedName(dir, name)) {
    return Status::InvalidArgument("'" + std::string(name) +
                                   "' is reserved for shovelfs");
  }
  std::string id = DirPrefix(dir);
  id.append(name);
  static_assert(kMaxPathBytes + 1 + kDirMarker.size() <= kMaxIdBytes);
  if (id.size() > kMaxPathBytes) {
    return MakeFsError(FsError::kNameTooLong,
                       "a path is at most " + std::to_string(kMaxPathBytes) +
                           " bytes, '" + id.substr(0, 40) + "...' has " +
                           std::to_string(id.size()));
  }
  SHOVEL_RETURN_IF_ERROR(ValidateId(id));
  return id;
}

bool IsReservedName(std::string_view dir, std::string_view name) {
  return name == kDirMarker ||
         (dir.empty() && (name == kOpenUnlinkedDir || name == kLinkDataDir));
}

std::string DirPrefix(std::string_view dir) {
  if (dir.empty()) return std::string();
  std::string prefix(dir);
  prefix.push_back('/');
  return prefix;
}

std::string MarkerId(std::string_view dir) {
  return DirPrefix(dir) + std::string(kDirMarker);
}

std::string_view BaseName(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace shovel::fs
