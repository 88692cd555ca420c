// Byte-string helpers shared by the parts that print values or check ids.
// Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace shovel {

// The byte offset of the first invalid UTF-8 sequence in `s` (overlong
// forms, surrogates and code points past U+10FFFF count as invalid), or
// npos when all of `s` is valid.
size_t FirstInvalidUtf8(std::string_view s);

// `s` in single quotes for an error message: its first 64 bytes ("..."
// after them if there are more), control bytes as \xNN.
std::string QuoteForMessage(std::string_view s);

}  // namespace shovel
