#include "shovel/fs/errors.h"

#include <array>
#include <utility>

namespace shovel::fs {
namespace {

struct Phrase {
  FsError kind;
  Code code;
  std::string_view text;
};

constexpr std::array<Phrase, 13> kPhrases = {{
    {FsError::kNameTooLong, Code::kInvalidArgument, "name too long"},
    {FsError::kIsDirectory, Code::kInvalidArgument, "is a directory"},
    {FsError::kNotDirectory, Code::kInvalidArgument, "not a directory"},
    {FsError::kNotEmpty, Code::kInvalidArgument, "directory not empty"},
    {FsError::kNoAttribute, Code::kNotFound, "no such attribute"},
    {FsError::kNotSupported, Code::kInvalidArgument, "not supported"},
    {FsError::kReadOnly, Code::kInvalidArgument, "read-only"},
    {FsError::kExists, Code::kAlreadyExists, "already exists"},
    {FsError::kBadHandle, Code::kInvalidArgument, "bad file handle"},
    {FsError::kTooBig, Code::kInvalidArgument, "value too large"},
    {FsError::kFileTooBig, Code::kNoSpace, "file too large"},
    {FsError::kNotPermitted, Code::kInvalidArgument, "not permitted"},
    {FsError::kPastEnd, Code::kInvalidArgument, "offset past the end"},
}};

}  // namespace

Status MakeFsError(FsError kind, std::string_view detail) {
  for (const Phrase& p : kPhrases) {
    if (p.kind == kind) {
      return Status(p.code, std::string(p.text) + ": " + std::string(detail));
    }
  }
  return Status::Internal(std::string(detail));
}

FsError FsErrorOf(const Status& status) {
  const std::string& m = status.message();
  for (const Phrase& p : kPhrases) {
    if (status.code() == p.code && m.size() > p.text.size() &&
        m.compare(0, p.text.size(), p.text) == 0 && m[p.text.size()] == ':') {
      return p.kind;
    }
  }
  return FsError::kNone;
}

}  // namespace shovel::fs
