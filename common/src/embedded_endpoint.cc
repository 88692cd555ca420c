#include "shovel/embedded_endpoint.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace shovel {

std::string EmbeddedSocketDir(uid_t uid, const char* xdg_runtime_dir) {
  if (xdg_runtime_dir && *xdg_runtime_dir)
    return std::string(xdg_runtime_dir) + "/shovelfs";
  if (uid == 0) return "/run/shovelfs";
  return "/tmp/shovelfs-" + std::to_string(uid);
}

Status PrivateDir(const std::string& dir, uid_t uid) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::InvalidArgument("cannot create " + dir + ": " + std::strerror(errno));
  }
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) {
    return Status::InvalidArgument("cannot stat " + dir + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument(dir + " is not a directory (a symbolic link?)");
  }
  if (st.st_uid != uid) {
    return Status::InvalidArgument(dir + " belongs to uid " + std::to_string(st.st_uid) +
                                   ", not " + std::to_string(uid));
  }
  if ((st.st_mode & 077) != 0) {
    return Status::InvalidArgument(
        dir + " may be entered by group or others (chmod 700 " + dir + ")");
  }
  return Status::Ok();
}

std::string EmbeddedEndpoint(const std::string& dir, const std::string& mountpoint) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a: the same in every build
  for (unsigned char c : mountpoint) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return "ipc://" + dir + "/" + hex + ".sock";
}

}  // namespace shovel
