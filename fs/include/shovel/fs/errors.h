// Filesystem errors that the cache's Status codes do not name.
//
// The vfs reports everything as a Status. Conditions that only a filesystem
// has (a directory is not empty, an attribute is missing...) are Statuses
// whose message starts with a fixed, human-readable phrase, so the log line a
// user sees reads naturally and the FUSE edge (ErrnoFromStatus, fuse_edge.h)
// turns them into the errno a program expects. Pure, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "shovel/status.h"

namespace shovel::fs {

enum class FsError {
  kNone,
  kNameTooLong,   // ENAMETOOLONG
  kIsDirectory,   // EISDIR
  kNotDirectory,  // ENOTDIR
  kNotEmpty,      // ENOTEMPTY
  kNoAttribute,   // ENODATA
  kNotSupported,  // EOPNOTSUPP
  kReadOnly,      // EPERM (user.shovel.* attributes)
  kExists,        // EEXIST
  kBadHandle,     // EBADF
  kTooBig,        // E2BIG (xattr value over 64 KiB)
  kFileTooBig,    // EFBIG (a size no worker could ever hold)
  kNotPermitted,  // EPERM (a hard link to a directory or special file)
  kPastEnd,       // ENXIO (SEEK_DATA/SEEK_HOLE at or past the end)
};

// A Status for `kind`; the message is "<phrase>: <detail>".
Status MakeFsError(FsError kind, std::string_view detail);

// The kind of an error made by MakeFsError, else kNone.
FsError FsErrorOf(const Status& status);

}  // namespace shovel::fs
