#include "shovel/consul/coordinate.h"

#include <gtest/gtest.h>

namespace shovel::consul {
namespace {

Coordinate At(std::vector<double> vec, double height, double adjustment) {
  Coordinate c;
  c.vec = std::move(vec);
  c.height = height;
  c.adjustment = adjustment;
  return c;
}

// |(0.003, 0.004, 0...) - 0| = 0.005 s; heights add 0.0001 + 0.0002.
TEST(CoordinateTest, EuclideanPlusHeights) {
  Coordinate a = At({0.003, 0.004, 0, 0, 0, 0, 0, 0}, 0.0001, 0);
  Coordinate b = At({0, 0, 0, 0, 0, 0, 0, 0}, 0.0002, 0);
  auto rtt = RttSeconds(a, b);
  ASSERT_TRUE(rtt.ok());
  EXPECT_NEAR(*rtt, 0.0053, 1e-12);
  EXPECT_NEAR(*RttSeconds(b, a), 0.0053, 1e-12);  // symmetric
}

TEST(CoordinateTest, AdjustmentsAddWhenResultStaysPositive) {
  Coordinate a = At({0.003, 0.004, 0, 0, 0, 0, 0, 0}, 0.0001, 0.0004);
  Coordinate b = At({0, 0, 0, 0, 0, 0, 0, 0}, 0.0002, -0.0001);
  EXPECT_NEAR(*RttSeconds(a, b), 0.0053 + 0.0003, 1e-12);
}

TEST(CoordinateTest, AdjustmentsIgnoredWhenResultWouldNotBePositive) {
  Coordinate a = At({0.003, 0.004, 0, 0, 0, 0, 0, 0}, 0.0001, -0.004);
  Coordinate b = At({0, 0, 0, 0, 0, 0, 0, 0}, 0.0002, -0.0013);
  // 0.0053 - 0.0053 = 0 is not > 0: the raw distance is kept.
  EXPECT_NEAR(*RttSeconds(a, b), 0.0053, 1e-12);
}

TEST(CoordinateTest, ThreeDimensionsWorkedExample) {
  // diff = (1.7, -3.6, 1.0): sqrt(2.89 + 12.96 + 1.0) = sqrt(16.85).
  Coordinate a = At({-0.5, 1.3, 2.4}, 0.7, 0.5);
  Coordinate b = At({1.2, -2.3, 3.4}, 0.1, -0.2);
  EXPECT_NEAR(*RttSeconds(a, b), 4.10487515035 + 0.8 + 0.3, 1e-9);
}

TEST(CoordinateTest, SamePointIsBothHeights) {
  Coordinate origin = At(std::vector<double>(8, 0.0), 1.0e-5, 0);
  EXPECT_NEAR(*RttSeconds(origin, origin), 2.0e-5, 1e-15);
}

TEST(CoordinateTest, DimensionMismatchIsAnError) {
  auto rtt = RttSeconds(At({0, 0}, 0, 0), At({0, 0, 0}, 0, 0));
  EXPECT_EQ(rtt.status().code(), Code::kInvalidArgument);
  EXPECT_NE(rtt.status().message().find("dimensions"), std::string::npos);
}

}  // namespace
}  // namespace shovel::consul
