// EvictionReport: the worker's "memory pressure" summary, at most one line a
// minute, the first at once.
#include "eviction_report.h"

#include <gtest/gtest.h>

namespace shovel::worker {
namespace {

using Clock = EvictionReport::Clock;
using std::chrono::seconds;

TEST(EvictionReport, NothingWhileNothingIsEvicted) {
  EvictionReport r;
  const auto t = Clock::now();
  EXPECT_FALSE(r.Observe(0, 0, 100, 1000, t));
  EXPECT_FALSE(r.Observe(0, 0, 900, 1000, t + seconds(120)));
}

TEST(EvictionReport, FirstEvictionsAtOnceThenOncePerMinute) {
  EvictionReport r;
  const auto t = Clock::now();
  ASSERT_FALSE(r.Observe(0, 0, 0, 8 << 20, t));
  auto first = r.Observe(13, 13 << 20, 7 << 20, 8 << 20, t + seconds(1));
  ASSERT_TRUE(first);
  EXPECT_EQ(
      *first,
      "memory pressure: 13 ids (13.0 MiB) evicted in the last 1s to make room; memory "
      "used 7.0 MiB of 8.0 MiB (raise max-memory or add workers to keep more)");
  EXPECT_FALSE(r.Observe(20, 20 << 20, 7 << 20, 8 << 20, t + seconds(30)));
  EXPECT_FALSE(r.Observe(40, 40 << 20, 7 << 20, 8 << 20, t + seconds(60)));
  auto second = r.Observe(41, 41 << 20, 7 << 20, 8 << 20, t + seconds(61));
  ASSERT_TRUE(second);
  // Everything since the first line, summed.
  EXPECT_NE(second->find("memory pressure: 28 ids (28.0 MiB) evicted in the last 60s"),
            std::string::npos)
      << *second;
}

TEST(EvictionReport, OneIdIsSingular) {
  EvictionReport r;
  auto line = r.Observe(1, 4096, 1, 2, Clock::now());
  ASSERT_TRUE(line);
  EXPECT_NE(line->find("1 id (4.0 KiB) evicted"), std::string::npos) << *line;
}

}  // namespace
}  // namespace shovel::worker
