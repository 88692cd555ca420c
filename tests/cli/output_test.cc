// shovelctl's output helpers (pure functions).
#include "output.h"

#include <gtest/gtest.h>

namespace shovel::cli {
namespace {

TEST(OutputTest, FormatTimeNsIsUtcIso8601WithMilliseconds) {
  EXPECT_EQ(FormatTimeNs(0), "-");
  EXPECT_EQ(FormatTimeNs(1'000'000), "1970-01-01T00:00:00.001Z");
  // 2026-12-03 13:05:12.345678901 UTC.
  EXPECT_EQ(FormatTimeNs(1796303112'345678901LL), "2026-12-03T13:05:12.345Z");
  EXPECT_EQ(FormatTimeNs(-1'000'000), "1969-12-31T23:59:59.999Z");
}

}  // namespace
}  // namespace shovel::cli
