#include "shovel/text.h"

#include <cstdint>

namespace shovel {

namespace {

// The length of the valid UTF-8 sequence that starts s[i] (1 to 4), or 0
// when none does. Overlong forms, surrogates and values past U+10FFFF are
// not UTF-8.
size_t Utf8SequenceAt(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t len;
  uint32_t cp;
  if (c < 0x80) {
    return 1;
  } else if ((c & 0xe0) == 0xc0) {
    len = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3f);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
      cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return len;
}

}  // namespace

size_t FirstInvalidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t len = Utf8SequenceAt(s, i);
    if (len == 0) return i;
    i += len;
  }
  return std::string_view::npos;
}

std::string QuoteForMessage(std::string_view id) {
  static const char* kHex = "0123456789abcdef";
  std::string out = "'";
  size_t i = 0;
  while (i < id.size() && i < 64) {
    unsigned char c = static_cast<unsigned char>(id[i]);
    size_t len = c >= 0x20 && c != 0x7f ? Utf8SequenceAt(id, i) : 0;
    if (len == 0) {  // a control byte, or a byte that is not UTF-8
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      ++i;
      continue;
    }
    out.append(id.substr(i, len));
    i += len;
  }
  if (i < id.size()) out += "...";
  out += "'";
  return out;
}

}  // namespace shovel
