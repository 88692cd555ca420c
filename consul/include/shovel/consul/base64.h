// Standard base64 (RFC 4648, with padding), the encoding Consul uses for KV
// values in JSON. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "shovel/status.h"

namespace shovel::consul {

std::string Base64Encode(std::string_view bytes);

// kCorruption for characters outside the alphabet or a bad length/padding.
Result<std::string> Base64Decode(std::string_view text);

}  // namespace shovel::consul
