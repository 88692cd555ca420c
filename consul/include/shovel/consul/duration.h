// Go-style durations as Consul writes them ("10s", "1m30s", "500ms", "2h").
// Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <string_view>

#include "shovel/status.h"

namespace shovel::consul {

// Accepts one or more <number><unit> groups with units h, m, s, ms (a bare
// "0" too); fractions allowed ("1.5s"). Rounded to milliseconds.
// kInvalidArgument names the text and the accepted forms.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace shovel::consul
