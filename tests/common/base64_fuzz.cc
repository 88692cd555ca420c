// libFuzzer target for base64 (shovel/base64.h). Input: any bytes.
// Decoding never crashes; whatever it accepts re-encodes to text of the same
// length; encoding any bytes decodes back to them.
#include <cstddef>
#include <cstdint>
#include <string>

#include "shovel/base64.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto decoded = shovel::Base64Decode(in);
  if (decoded.ok() && shovel::Base64Encode(*decoded).size() != in.size())
    __builtin_trap();
  auto back = shovel::Base64Decode(shovel::Base64Encode(in));
  if (!back.ok() || *back != in) __builtin_trap();
  return 0;
}
