#include "shovel/fs/fuse_edge.h"

#include <cerrno>

#include "shovel/fs/errors.h"

namespace shovel::fs {

int ErrnoFromStatus(const Status& status) {
  switch (FsErrorOf(status)) {
    case FsError::kNameTooLong:
      return ENAMETOOLONG;
    case FsError::kIsDirectory:
      return EISDIR;
    case FsError::kNotDirectory:
      return ENOTDIR;
    case FsError::kNotEmpty:
      return ENOTEMPTY;
    case FsError::kNoAttribute:
      return ENODATA;
    case FsError::kNotSupported:
      return EOPNOTSUPP;
    case FsError::kReadOnly:
      return EPERM;
    case FsError::kExists:
      return EEXIST;
    case FsError::kBadHandle:
      return EBADF;
    case FsError::kTooBig:
      return E2BIG;
    case FsError::kFileTooBig:
      return EFBIG;
    case FsError::kNotPermitted:
      return EPERM;
    case FsError::kPastEnd:
      return ENXIO;
    case FsError::kNone:
      break;
  }
  switch (status.code()) {
    case Code::kOk:
      return 0;
    case Code::kNotFound:
      return ENOENT;
    case Code::kAlreadyExists:
      return EEXIST;
    case Code::kInvalidArgument:
      return EINVAL;
    case Code::kNoSpace:
      return ENOSPC;
    case Code::kConflict:
      return EAGAIN;
    case Code::kPermissionDenied:
      return EACCES;
    case Code::kUnavailable:
    case Code::kTimeout:
    case Code::kCorruption:
    case Code::kInternal:
    case Code::kRedirect:
    case Code::kProtocol:
      return EIO;
  }
  return EIO;
}

XattrAnswer AnswerXattr(size_t requested, size_t length) {
  if (requested == 0) return {XattrAnswer::kSize};
  if (length > requested) return {XattrAnswer::kRange};
  return {XattrAnswer::kValue};
}

std::string JoinXattrNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    out += n;
    out.push_back('\0');
  }
  return out;
}

}  // namespace shovel::fs
