#include "shovel/status.h"

namespace shovel {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kNotFound:
      return "not found";
    case Code::kAlreadyExists:
      return "already exists";
    case Code::kInvalidArgument:
      return "invalid argument";
    case Code::kNoSpace:
      return "no space";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kTimeout:
      return "timeout";
    case Code::kCorruption:
      return "corruption";
    case Code::kInternal:
      return "internal error";
    case Code::kRedirect:
      return "redirect";
    case Code::kProtocol:
      return "protocol error";
    case Code::kConflict:
      return "conflict";
    case Code::kPermissionDenied:
      return "permission denied";
  }
  return "unknown status";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(CodeName(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += message_;
  return Status(code_, std::move(m));
}

}  // namespace shovel
