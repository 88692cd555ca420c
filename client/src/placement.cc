#include "placement.h"

#include <algorithm>
#include <numeric>

namespace shovel::client {
size_t HomeNode(std::string_view id, const std::vector<std::string>& node_ids) {
  size_t best = 0;
  uint64_t best_w = 0;
  for (size_t i = 0; i < node_ids.size(); ++i) {
    uint64_t w = HrwWeight(node_ids[i], id);
    if (i == 0 || w > best_w || (w == best_w && node_ids[i] < node_ids[best])) {
      best = i;
      best_w = w;
    }
  }
  return best;
}

size_t RouteNode(std::string_view id, const std::vector<std::string>& node_ids,
                 const std::function<bool(size_t)>& avoid) {
  size_t home = HomeNode(id, node_ids);
  if (!avoid(home)) return home;
  for (size_t i : RankNodes(id, node_ids)) {
    if (!avoid(i)) return i;
  }
  return home;
}

Result<std::vector<uint64_t>> ComputeQuotas(const std::vector<QuotaInput>& nodes,
                                            uint64_t count) {
  std::vector<uint64_t> quotas(nodes.size(), 0);
  if (count == 0) return quotas;
  unsigned __int128 total = 0;
  for (const auto& n : nodes) total += n.weight;
  if (total == 0) {
    return Status::InvalidArgument(
        nodes.empty() ? "no workers to place ids on"
                      : "no worker has capacity for new ids (every weight is 0)");
  }
  // share_i = count * w_i / total, split into floor and remainder.
  std::vector<unsigned __int128> rem(nodes.size());
  uint64_t assigned = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    unsigned __int128 num = static_cast<unsigned __int128>(count) * nodes[i].weight;
    quotas[i] = static_cast<uint64_t>(num / total);
    rem[i] = num % total;
    assigned += quotas[i];
  }
  std::vector<size_t> order(nodes.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (rem[a] != rem[b]) return rem[a] > rem[b];
    return nodes[a].node_id < nodes[b].node_id;
  });
  // At most nodes.size()-1 ids are left over, and only nodes with a non-zero
  // remainder (hence non-zero weight) can be first in `order`.
  for (size_t k = 0; assigned < count; ++k) {
    ++quotas[order[k % order.size()]];
    ++assigned;
  }
  return quotas;
}

std::vector<size_t> AssignmentOrder(const std::vector<uint64_t>& quotas) {
  uint64_t total = std::accumulate(quotas.begin(), quotas.end(), uint64_t{0});
  std::vector<size_t> out;
  out.reserve(total);
  std::vector<int64_t> current(quotas.size(), 0);
  for (uint64_t step = 0; step < total; ++step) {
    size_t best = 0;
    bool have = false;
    for (size_t i = 0; i < quotas.size(); ++i) {
      if (quotas[i] == 0) continue;
      current[i] += static_cast<int64_t>(quotas[i]);
      if (!have || current[i] > current[best]) {
        best = i;
        have = true;
      }
    }
    current[best] -= static_cast<int64_t>(total);
    out.push_back(best);
  }
  return out;
}

}  // namespace shovel::client
