// Cache id rules, shared by every part (docs/cache.md, "Ids").
//
// An id is UTF-8, 1..4096 bytes, without NUL; '/' separates namespace
// components, which are not empty and not "." or "..". ValidateId returns
// InvalidArgument with a message naming the rule that was broken. Pure
// functions, thread-safe.
#pragma once

#include <string_view>

#include "shovel/status.h"

namespace shovel {

inline constexpr size_t kMaxIdBytes = 4096;

Status ValidateId(std::string_view id);

// Like ValidateId, but also accepts the empty prefix and a trailing '/'
// ("" lists everything, "a/" lists the namespace a).
Status ValidatePrefix(std::string_view prefix);

}  // namespace shovel
