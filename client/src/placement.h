// Placement: rendezvous (highest-random-weight) hashing of ids over the
// placement set, and the exact init quotas (largest remainder) with their
// assignment order (smooth weighted round robin).
//
// Pure functions over plain values; thread-safe. Every result is
// deterministic for a given input (nodes are identified by node id; callers
// pass them in any order, ties break by node id).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "shovel/hrw.h"
#include "shovel/status.h"

namespace shovel::client {

// HrwWeight and RankNodes (shovel/hrw.h) are the order every part uses.
using shovel::HrwWeight;
using shovel::RankNodes;

// Index of the home node (rank 0); `node_ids` must not be empty.
size_t HomeNode(std::string_view id, const std::vector<std::string>& node_ids);

// Index of the first node in rank order for which `avoid(index)` is false
// (routing around critical workers); the home when every node is avoided.
size_t RouteNode(std::string_view id, const std::vector<std::string>& node_ids,
                 const std::function<bool(size_t)>& avoid);

// One candidate for init: its node id and weight (1, cores, or free bytes).
struct QuotaInput {
  std::string node_id;
  uint64_t weight = 0;
};

// Splits `count` ids over `nodes` proportionally to weight, exactly: every
// quota is floor or ceil of its share and they sum to `count` (largest
// remainder; equal remainders go to the smaller node id). Result is indexed
// like `nodes`. kInvalidArgument when there are ids but no node has weight.
Result<std::vector<uint64_t>> ComputeQuotas(const std::vector<QuotaInput>& nodes,
                                            uint64_t count);

// The node index for each of sum(quotas) ids, interleaved by smooth weighted
// round robin so any prefix is close to proportional; node i appears exactly
// quotas[i] times. Ties break by the order of `quotas` (callers sort by id).
std::vector<size_t> AssignmentOrder(const std::vector<uint64_t>& quotas);

}  // namespace shovel::client
