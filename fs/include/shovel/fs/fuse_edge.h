// The FUSE edge rules that need no kernel: errno from a Status (the ONE place
// errno is made), and the xattr size-probe / ERANGE rule. Pure, thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "shovel/status.h"

namespace shovel::fs {

// NotFound -> ENOENT, AlreadyExists -> EEXIST, NoSpace -> ENOSPC,
// InvalidArgument -> EINVAL, Unavailable/Timeout/Corruption/... -> EIO, and
// the filesystem conditions of errors.h to their own errno (ENAMETOOLONG,
// ENOTEMPTY, EISDIR, ENODATA, EPERM, EFBIG...).
int ErrnoFromStatus(const Status& status);

// What to answer a getxattr/listxattr asking for `requested` bytes when the
// value has `length` bytes: the size only (a probe, requested == 0), the
// bytes, or ERANGE when the buffer is too small.
struct XattrAnswer {
  enum Kind { kSize, kValue, kRange } kind;
};
XattrAnswer AnswerXattr(size_t requested, size_t length);

// listxattr's value: each name followed by a NUL.
std::string JoinXattrNames(const std::vector<std::string>& names);

}  // namespace shovel::fs
