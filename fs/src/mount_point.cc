#include "shovel/fs/mount_point.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace shovel::fs {
namespace {

// mountinfo writes space, tab, newline and backslash as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' &&
        s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
                               (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < line.size()) {
    size_t sp = line.find(' ', pos);
    if (sp == std::string_view::npos) sp = line.size();
    if (sp > pos) out.push_back(line.substr(pos, sp - pos));
    pos = sp + 1;
  }
  return out;
}

}  // namespace

bool HasShovelfsMountAt(std::string_view mountinfo, std::string_view path) {
  size_t pos = 0;
  while (pos < mountinfo.size()) {
    size_t nl = mountinfo.find('\n', pos);
    if (nl == std::string_view::npos) nl = mountinfo.size();
    std::vector<std::string_view> f = Fields(mountinfo.substr(pos, nl - pos));
    pos = nl + 1;
    // id parent major:minor root MOUNTPOINT options [optional...] - FSTYPE ...
    if (f.size() < 7 || Unescape(f[4]) != path) continue;
    for (size_t i = 5; i + 1 < f.size(); ++i) {
      if (f[i] == "-") {
        if (f[i + 1] == "fuse.shovelfs") return true;
        break;
      }
    }
  }
  return false;
}

Status CheckMountPoint(const std::string& path, bool allow_nonempty) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOTCONN) {
      return Status::Unavailable(
          "mount point " + path + " is a FUSE mount whose process is gone (" +
          std::strerror(err) + "); unmount it with fusermount3 -u " + path);
    }
    if (err == ENOENT) {
      return Status::NotFound("mount point " + path +
                              " does not exist (create it with mkdir -p " + path + ")");
    }
    return Status::InvalidArgument("mount point " + path + ": " + std::strerror(err));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("mount point " + path + " is not a directory");
  }
  char real[PATH_MAX];
  if (realpath(path.c_str(), real) == nullptr) {
    return Status::InvalidArgument("mount point " + path + ": " + std::strerror(errno));
  }
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream text;
  text << in.rdbuf();
  if (HasShovelfsMountAt(text.str(), real)) {
    return Status::AlreadyExists("mount point " + path +
                                 " already has a shovelfs mounted (unmount it first "
                                 "with fusermount3 -u " +
                                 path + ")");
  }
  if (allow_nonempty) return Status::Ok();
  DIR* dir = opendir(path.c_str());
  if (!dir) {
    return Status::InvalidArgument("mount point " + path + ": " + std::strerror(errno));
  }
  bool empty = true;
  while (dirent* e = readdir(dir)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  closedir(dir);
  if (!empty) {
    return Status::InvalidArgument("mount point " + path +
                                   " is not empty (the mount would hide its files; "
                                   "use -o nonempty to mount over them anyway)");
  }
  return Status::Ok();
}

}  // namespace shovel::fs
