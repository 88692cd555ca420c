// The rows of `shovelctl top` and the lines of `shovelctl stats`: pure
// functions over the workers' NodeInfo (their counters since start), so the
// arithmetic (rates, hit %, a worker that restarted) is unit-tested without
// a cluster. Thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "shovel/client.h"

namespace shovel::cli {

// One worker's rates between two samples.
struct TopRates {
  std::string node_id;
  bool healthy = false;
  double get = 0, set = 0, append = 0, other = 0;  // requests per second
  double hit_pct = -1;                             // -1: no GET in the interval
  double in_mbps = 0, out_mbps = 0;                // MB (10^6 bytes) per second
  double evictions = 0;                            // per second
  uint64_t mem_used = 0, mem_limit = 0, ids = 0;
};

// Rates of each worker of `after`, matched by endpoint in `before` (a worker
// missing there, or whose counters went down because it restarted, counts
// from 0), over `seconds` (> 0). A last row "TOTAL" sums them when there is
// more than one worker.
std::vector<TopRates> TopRatesOf(const std::vector<NodeInfo>& before,
                                 const std::vector<NodeInfo>& after, double seconds);

// The table of `top`: a header, then one row per TopRates.
std::vector<std::vector<std::string>> TopTable(const std::vector<TopRates>& rates);
nlohmann::json TopJson(const std::vector<TopRates>& rates);

// `stats`: one worker's "name:value" lines (INFO-like), and its JSON object.
std::vector<std::string> StatsLines(const NodeInfo& n);
nlohmann::json StatsJson(const NodeInfo& n);

}  // namespace shovel::cli
