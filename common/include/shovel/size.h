// Human sizes: "4096", "64KiB", "2GiB", "1.5GB" (KB/MB/GB/TB/PB are decimal,
// KiB/MiB/GiB/TiB/PiB binary, K/M/G/T/P binary like redis). ParseSize reads
// what FormatSize writes. Pure, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shovel/status.h"

namespace shovel {

// Parses a byte count; InvalidArgument names the text and the accepted forms.
Result<uint64_t> ParseSize(std::string_view text);

// 1536 -> "1.5 KiB"; 0 -> "0 B".
std::string FormatSize(uint64_t bytes);

}  // namespace shovel
