// libFuzzer target for the decoders of Consul API bodies (consul/src/codec.h).
// Input: byte 0 picks the decoder, the rest is the body. A body that is not
// what Consul sends must give an error, never a crash or an exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "codec.h"

using namespace shovel::consul::codec;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 9) {
    case 0:
      (void)DecodeSelf(body);
      break;
    case 1:
      (void)DecodeAgentServices(body);
      break;
    case 2:
      (void)DecodeHealth(body);
      break;
    case 3:
      (void)DecodeKvPairs(body);
      break;
    case 4:
      (void)DecodeStrings(body);
      break;
    case 5:
      (void)DecodeBool(body);
      break;
    case 6:
      (void)DecodeSessionId(body);
      break;
    case 7:
      (void)DecodeSessions(body);
      break;
    case 8:
      (void)DecodeCoordinates(body);
      break;
  }
  return 0;
}
