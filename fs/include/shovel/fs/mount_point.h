// Checks of a mount point made before shovelfs mounts (and before it goes
// to the background), so a mount that could only hide files or stack on
// another shovelfs exits non-zero with one line instead.
//
// Pure functions over the given text and the file system; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "shovel/status.h"

namespace shovel::fs {

// True when `mountinfo` (the text of /proc/self/mountinfo) lists a mount of
// type fuse.shovelfs at `path` (absolute, as realpath(3) gives it). Mount
// points are compared after undoing mountinfo's octal escapes (\040...).
bool HasShovelfsMountAt(std::string_view mountinfo, std::string_view path);

// Ok when `path` is a directory with no shovelfs mounted on it and, unless
// `allow_nonempty` (-o nonempty), no entries. Errors name the path and what
// to do: kNotFound (missing), kInvalidArgument (not a directory, or not
// empty), kAlreadyExists (a shovelfs is mounted there), kUnavailable (a
// FUSE mount whose process is gone: "Transport endpoint is not connected").
Status CheckMountPoint(const std::string& path, bool allow_nonempty);

}  // namespace shovel::fs
