// Coordinate: a Consul/Serf network coordinate (Vivaldi with height and
// adjustment), and the round-trip-time estimate between two of them.
// Plain values and pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "shovel/status.h"

namespace shovel::consul {

struct Coordinate {
  std::vector<double> vec;  // Serf uses 8 dimensions; units are seconds
  double error = 1.5;
  double adjustment = 0.0;
  double height = 1.0e-5;
};

// One entry of /v1/coordinate/nodes.
struct CoordinateEntry {
  std::string node;
  std::string segment;
  Coordinate coord;
};

// Estimated RTT in seconds, Serf's formula: d = |a.vec - b.vec| + a.height +
// b.height; if d + a.adjustment + b.adjustment > 0 that sum is the answer,
// else d. kInvalidArgument when the dimensions differ (Consul refuses to
// compare them too).
Result<double> RttSeconds(const Coordinate& a, const Coordinate& b);

}  // namespace shovel::consul
