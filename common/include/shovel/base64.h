// Standard base64 (RFC 4648, with '=' padding): Consul's encoding of KV
// values in JSON, and shovelctl --json's `data_base64`. Pure functions;
// thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "shovel/status.h"

namespace shovel {

std::string Base64Encode(std::string_view bytes);

// kCorruption for characters outside the alphabet or a bad length/padding.
Result<std::string> Base64Decode(std::string_view text);

}  // namespace shovel
