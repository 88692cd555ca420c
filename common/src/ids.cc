#include "shovel/ids.h"

#include <string>

#include "shovel/text.h"

namespace shovel {
namespace {

Status CheckBody(std::string_view id, std::string_view what, bool allow_empty,
                 bool allow_trailing_slash) {
  if (id.empty()) {
    if (allow_empty) return Status::Ok();
    return Status::InvalidArgument("the " + std::string(what) +
                                   " is empty; ids are 1 to 4096 bytes");
  }
  if (id.size() > kMaxIdBytes) {
    return Status::InvalidArgument(std::string(what) + " " + QuoteForMessage(id) +
                                   " is " + std::to_string(id.size()) +
                                   " bytes; ids are at most 4096 bytes");
  }
  if (id.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument(std::string(what) + " " + QuoteForMessage(id) +
                                   " contains a NUL byte");
  }
  size_t bad = FirstInvalidUtf8(id);
  if (bad != std::string_view::npos) {
    return Status::InvalidArgument(std::string(what) + " " + QuoteForMessage(id) +
                                   " is not valid UTF-8 (at byte " + std::to_string(bad) +
                                   ")");
  }
  std::string_view body = id;
  if (allow_trailing_slash && body.back() == '/') body.remove_suffix(1);
  if (body.empty()) {
    return Status::InvalidArgument(std::string(what) + " " + QuoteForMessage(id) +
                                   " has an empty path component");
  }
  size_t start = 0;
  while (true) {
    size_t end = body.find('/', start);
    std::string_view comp =
        body.substr(start, end == std::string_view::npos ? body.npos : end - start);
    if (comp.empty()) {
      return Status::InvalidArgument(std::string(what) + " " + QuoteForMessage(id) +
                                     " has an empty path component");
    }
    if (comp == "." || comp == "..") {
      return Status::InvalidArgument(std::string(what) + " " + QuoteForMessage(id) +
                                     " has a '" + std::string(comp) + "' path component");
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return Status::Ok();
}

}  // namespace

Status ValidateId(std::string_view id) {
  return CheckBody(id, "id", /*allow_empty=*/false, /*allow_trailing_slash=*/false);
}

Status ValidatePrefix(std::string_view prefix) {
  return CheckBody(prefix, "prefix", /*allow_empty=*/true,
                   /*allow_trailing_slash=*/true);
}

}  // namespace shovel
