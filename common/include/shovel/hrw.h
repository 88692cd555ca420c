// Rendezvous (highest-random-weight) hashing: the order of nodes for an id,
// shared by the client (placement, routing) and the worker (which ids a
// joining worker should be handed). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shovel {

// A stable 64-bit hash of (node, id) used as the HRW weight. Fixed forever:
// changing it moves every id.
uint64_t HrwWeight(std::string_view node_id, std::string_view id);

// Whether node `a` (weight `wa` for some id) comes before node `b` (weight
// `wb` for the same id) in that id's order: higher weight first, ties by
// node id. The one comparison every ranking uses.
inline bool ComesBefore(std::string_view a, uint64_t wa, std::string_view b,
                        uint64_t wb) {
  return wa != wb ? wa > wb : a < b;
}

// Indexes into `node_ids`, best first (rank 0 = home, then replicas); ties
// break by node id.
std::vector<size_t> RankNodes(std::string_view id,
                              const std::vector<std::string>& node_ids);

}  // namespace shovel
