#include "shovel/consul/coordinate.h"

#include <cmath>

namespace shovel::consul {

Result<double> RttSeconds(const Coordinate& a, const Coordinate& b) {
  if (a.vec.size() != b.vec.size()) {
    return Status::InvalidArgument(
        "coordinates have different dimensions (" + std::to_string(a.vec.size()) +
        " and " + std::to_string(b.vec.size()) + "); they cannot be compared");
  }
  double sum = 0;
  for (size_t i = 0; i < a.vec.size(); ++i) {
    double d = a.vec[i] - b.vec[i];
    sum += d * d;
  }
  double dist = std::sqrt(sum) + a.height + b.height;
  double adjusted = dist + a.adjustment + b.adjustment;
  return adjusted > 0.0 ? adjusted : dist;
}

}  // namespace shovel::consul
