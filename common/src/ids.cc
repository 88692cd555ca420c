#include "shovel/ids.h"

#include <string>

#include "shovel/text.h"

namespace shovel {
namespace {

std::string Quote(std::string_view id) {
  std::string out = "'";
  size_t n = id.size() > 64 ? 64 : id.size();
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(id[i]);
    if (c < 0x20 || c == 0x7f) {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (id.size() > n) out += "...";
  out += "'";
  return out;
}

Status CheckBody(std::string_view id, std::string_view what, bool allow_empty,
                 bool allow_trailing_slash) {
  if (id.empty()) {
    if (allow_empty) return Status::Ok();
    return Status::InvalidArgument("the " + std::string(what) +
                                   " is empty; ids are 1 to 1024 bytes");
  }
  if (id.size() > kMaxIdBytes) {
    return Status::InvalidArgument(std::string(what) + " " + Quote(id) + " is " +
                                   std::to_string(id.size()) +
                                   " bytes; ids are at most 1024 bytes");
  }
  if (id.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument(std::string(what) + " " + Quote(id) +
                                   " contains a NUL byte");
  }
  size_t bad = FirstInvalidUtf8(id);
  if (bad != std::string_view::npos) {
    return Status::InvalidArgument(std::string(what) + " " + Quote(id) +
                                   " is not valid UTF-8 (at byte " + std::to_string(bad) +
                                   ")");
  }
  std::string_view body = id;
  if (allow_trailing_slash && body.back() == '/') body.remove_suffix(1);
  if (body.empty()) {
    return Status::InvalidArgument(std::string(what) + " " + Quote(id) +
                                   " has an empty path component");
  }
  size_t start = 0;
  while (true) {
    size_t end = body.find('/', start);
    std::string_view comp =
        body.substr(start, end == std::string_view::npos ? body.npos : end - start);
    if (comp.empty()) {
      return Status::InvalidArgument(std::string(what) + " " + Quote(id) +
                                     " has an empty path component");
    }
    if (comp == "." || comp == "..") {
      return Status::InvalidArgument(std::string(what) + " " + Quote(id) + " has a '" +
                                     std::string(comp) + "' path component");
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
