// EvictionReport: the worker's "memory pressure" summary, at most one line a
// minute, the first at once.
#include "eviction_report.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

// The thread a Worker runs: samples once a second, writes the line to the
// worker's log at warn, counting from its start; Stop joins it.
TEST(EvictionWatch, LogsTheFirstEvictionsWithinASecond) {
  std::atomic<uint64_t> evictions{0};
  std::mutex mu;
  std::vector<std::pair<log::Level, std::string>> lines;
  EvictionWatch watch(
      [&] {
        WorkerSample s;
        s.evictions = evictions.load();
        s.evicted_bytes = s.evictions << 20;
        s.mem_used = 7 << 20;
        s.mem_limit = 8 << 20;
        return s;
      },
      [&](log::Level level, const std::string& line) {
        std::lock_guard<std::mutex> l(mu);
        lines.emplace_back(level, line);
      });
  watch.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  {
    std::lock_guard<std::mutex> l(mu);
    EXPECT_TRUE(lines.empty());
  }
  evictions = 5;
  for (int i = 0; i < 30; ++i) {
    {
      std::lock_guard<std::mutex> l(mu);
      if (!lines.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  evictions = 9;  // within the minute: no second line
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  watch.Stop();
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].first, log::Level::kWarn);
  EXPECT_EQ(
      lines[0].second.rfind("memory pressure: 5 ids (5.0 MiB) evicted in the last ", 0),
      0u)
      << lines[0].second;
  // Counted from the watch's start (about 2 s ago), not from its first sample.
  EXPECT_EQ(lines[0].second.find("in the last 0s"), std::string::npos) << lines[0].second;
}

}  // namespace
}  // namespace shovel::worker
