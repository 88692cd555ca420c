// libFuzzer target for the text parsers of flags and config values: sizes
// (shovel/size.h), Go durations (shovel/consul/duration.h) and ids
// (shovel/ids.h). Input: byte 0 picks the parser, the rest is its text.
// Besides not crashing: an accepted id obeys the id rules, and a size that
// parses formats (FormatSize, what shovelctl prints) to text that parses
// again.
#include <cstddef>
#include <cstdint>
#include <string>

#include "shovel/consul/duration.h"
#include "shovel/ids.h"
#include "shovel/size.h"
#include "shovel/text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto n = shovel::ParseSize(text);
      // Below 1.7e19, FormatSize's rounding cannot cross ParseSize's limit.
      if (n.ok() && *n < 17'000'000'000'000'000'000ull &&
          !shovel::ParseSize(shovel::FormatSize(*n)).ok()) {
        __builtin_trap();
      }
      break;
    }
    case 1:
      (void)shovel::consul::ParseDuration(text);
      break;
    case 2: {
      bool ok = shovel::ValidateId(text).ok();
      if (ok && (text.empty() || text.size() > 4096 ||
                 text.find('\0') != std::string_view::npos ||
                 shovel::FirstInvalidUtf8(text) != std::string_view::npos ||
                 text.front() == '/' || text.find("//") != std::string_view::npos)) {
        __builtin_trap();
      }
      break;
    }
    case 3:
      (void)shovel::ValidatePrefix(text);
      break;
  }
  return 0;
}
