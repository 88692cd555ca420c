// Copies of values too large for one message (over Replicator::kMaxFetch),
// read part by part from the store: the hand-over, a leave and a streamed
// commit's replicas use them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "replicator.h"
#include "shovel/text.h"
#include "shovel/worker/store.h"

namespace shovel::worker {

// `id` copied from `store` at `version` (`size` bytes) to each of
// `endpoints` in turn, with Replicator::CopyLarge; the first failure. A
// part read after the id changed fails the copy (kConflict): the value is
// never sent as a mix of two versions.
inline ForwardError CopyLargeValue(Replicator& replicator, Store& store,
                                   const std::vector<std::string>& endpoints,
                                   std::string_view id, uint64_t version, uint64_t size,
                                   bool pinned) {
  const std::string name(id);
  auto part = [&](uint64_t offset, uint64_t length) -> Result<std::string> {
    auto v = store.Read(name, offset, length, length);
    if (!v.ok()) return v.status();
    if (v->version != version || v->bytes.size != length) {
      return Status::Conflict("id " + QuoteForMessage(name) +
                              " changed while it was being copied");
    }
    return std::string(v->bytes.data, v->bytes.size);
  };
  for (const auto& e : endpoints) {
    ForwardError fe = replicator.CopyLarge(e, id, version, size, pinned, part);
    if (!fe.status.ok()) return fe;
  }
  return {};
}

}  // namespace shovel::worker
