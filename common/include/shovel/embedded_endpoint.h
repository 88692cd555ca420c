// Where a shovelfs mount's embedded worker listens (docs/security.md): an
// ipc:// socket in a directory only the mount's owner can enter, so the
// kernel's permission checks on the mount are the only way in for other
// users (no TCP port around them). shovelctl --mount MNT finds the socket
// the same way, as the same user.
//
// Thread-safety: free functions; PrivateDir touches the filesystem.
#pragma once

#include <sys/types.h>

#include <string>

#include "shovel/status.h"

namespace shovel {

// $XDG_RUNTIME_DIR/shovelfs when `xdg_runtime_dir` is set and not empty,
// else /run/shovelfs for root, else /tmp/shovelfs-<uid>.
std::string EmbeddedSocketDir(uid_t uid, const char* xdg_runtime_dir);

// Makes `dir` (mode 0700) or checks the one there: a directory, not a
// symbolic link, owned by `uid`, with no group or other permission bits.
// kInvalidArgument naming the directory and the fault otherwise.
Status PrivateDir(const std::string& dir, uid_t uid);

// "ipc://DIR/<16 hex digits of the mountpoint's hash>.sock" for the
// mountpoint's absolute path.
std::string EmbeddedEndpoint(const std::string& dir, const std::string& mountpoint);

}  // namespace shovel
