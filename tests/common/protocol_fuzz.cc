// libFuzzer target for the wire decoders. Input: byte 0 picks the decoder;
// for decoders 0-1 the rest is frames, each a 2-byte little-endian length
// then bytes; for the body decoders it is the body.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "shovel/protocol.h"

using namespace shovel::wire;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t which = data[0];
  // Cases 0-1 take `rest` as frames; the body decoders (2-6) take the
  // whole input after byte 0 (splitting it first would leave them nothing).
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string_view rest = which % 7 < 2 ? body : std::string_view();
  std::vector<std::string_view> frames;
  while (rest.size() >= 2 && frames.size() < 2000) {
    size_t n = static_cast<uint8_t>(rest[0]) | (static_cast<uint8_t>(rest[1]) << 8);
    rest.remove_prefix(2);
    n = n < rest.size() ? n : rest.size();
    frames.push_back(rest.substr(0, n));
    rest.remove_prefix(n);
  }
  switch (which % 7) {
    case 0: {
      auto r = DecodeRequest(frames);
      if (r.ok()) {
        // A decoded header must survive a round trip unchanged.
        auto again = DecodeHeader(EncodeHeader(r->header));
        if (!again.ok() || again->request_id != r->header.request_id) __builtin_trap();
      }
      break;
    }
    case 1: {
      auto r = DecodeReply(frames);
      if (r.ok()) (void)ReplyStatus(*r);
      break;
    }
    case 2:
      (void)DecodeStat(body);
      break;
    case 3:
      (void)DecodeNodeStats(body);
      break;
    case 4:
      (void)DecodeStrings(body);
      break;
    case 5:
      (void)DecodeAttrs(body);
      break;
    default: {
      // A BATCH body: split it, then validate every item as a request and
      // as a reply (the worker and the client do each).
      auto items = DecodeBatchBody(body, which / 7 + 1);
      if (items.ok()) {
        for (const auto& item : *items) {
          (void)DecodeBatchItem(item);
          (void)DecodeReply(item);
        }
      }
      break;
    }
  }
  return 0;
}
