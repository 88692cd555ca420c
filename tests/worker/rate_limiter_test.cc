#include "rate_limiter.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "request_error_log.h"

namespace shovel::worker {
namespace {

using std::chrono::milliseconds;
using Clock = RateLimiter::Clock;

TEST(RateLimiterTest, LetsThroughPerWindowThenCountsWhatItHolds) {
  RateLimiter r(3, milliseconds(1000));
  const Clock::time_point t0{};
  for (int i = 0; i < 3; ++i) EXPECT_EQ(r.Allow(t0 + milliseconds(i)), 0u) << i;
  for (int i = 0; i < 7; ++i)
    EXPECT_FALSE(r.Allow(t0 + milliseconds(10 + i)).has_value());
  EXPECT_EQ(r.held(), 7u);
  // The next window's first line carries the count, once.
  EXPECT_EQ(r.Allow(t0 + milliseconds(1000)), 7u);
  EXPECT_EQ(r.held(), 0u);
  EXPECT_EQ(r.Allow(t0 + milliseconds(1001)), 0u);
}

TEST(RateLimiterTest, AFloodStaysUnderTheBound) {
  RateLimiter r(5, milliseconds(1000));
  const Clock::time_point t0{};
  int lines = 0;
  uint64_t reported = 0;
  // 100000 events over 10 s: 5 lines a second, nothing lost from the count.
  for (int i = 0; i < 100000; ++i) {
    auto held = r.Allow(t0 + std::chrono::microseconds(i * 100));
    if (held) {
      ++lines;
      reported += *held;
    }
  }
  EXPECT_EQ(lines, 50);
  EXPECT_EQ(reported + r.held() + lines, 100000u);
}

TEST(RateLimiterTest, ZeroLetsNothingThrough) {
  RateLimiter r(0, milliseconds(1000));
  EXPECT_FALSE(r.Allow(Clock::time_point{}).has_value());
  EXPECT_FALSE(r.Allow(Clock::time_point{} + milliseconds(5000)).has_value());
  EXPECT_EQ(r.held(), 2u);
}

struct Captured {
  std::vector<std::pair<log::Level, std::string>> lines;
  log::LogFn Fn() {
    return [this](log::Level l, const std::string& s) { lines.emplace_back(l, s); };
  }
};

TEST(RequestErrorLogTest, LevelsByKindAndNormalAnswersAreNotLogged) {
  Captured c;
  RequestErrorLog e(c.Fn());
  const Clock::time_point t0{};
  e.Report("GET", "a/b", Status::Corruption("checksum mismatch"), t0);
  e.Report("PUT", "a/c", Status::NoSpace("worker is full"), t0);
  e.Report("GET", "", Status::Protocol("bad header"), t0);
  e.Report("GET", "a/d", Status::NotFound("no such id"), t0);
  e.Report("PUT", "a/e", Status::Conflict("exists"), t0);
  ASSERT_EQ(c.lines.size(), 3u);
  EXPECT_EQ(c.lines[0].first, log::Level::kError);
  EXPECT_NE(c.lines[0].second.find("GET 'a/b' failed: "), std::string::npos)
      << c.lines[0].second;
  EXPECT_NE(c.lines[0].second.find("checksum mismatch"), std::string::npos);
  EXPECT_EQ(c.lines[1].first, log::Level::kWarn);
  EXPECT_EQ(c.lines[2].first, log::Level::kWarn);
  EXPECT_EQ(c.lines[2].second.rfind("malformed request (GET) failed: ", 0), 0u)
      << c.lines[2].second;
}

TEST(RequestErrorLogTest, EachKindHasItsOwnLimitAndSaysWhatItSuppressed) {
  Captured c;
  RequestErrorLog e(c.Fn());
  const Clock::time_point t0{};
  for (int i = 0; i < 100; ++i) e.Report("", "", Status::Protocol("bad"), t0);
  e.Report("GET", "x", Status::Internal("oops"), t0);  // another kind: not held
  ASSERT_EQ(c.lines.size(), RequestErrorLog::kPerSecond + 1);
  EXPECT_EQ(c.lines.back().first, log::Level::kError);
  e.Report("", "", Status::Protocol("bad"), t0 + std::chrono::seconds(1));
  EXPECT_NE(c.lines.back().second.find("; 95 similar suppressed"), std::string::npos)
      << c.lines.back().second;
}

TEST(RateLimiterTest, FlushReportsWhatWasHeldOnceItsWindowEnded) {
  RateLimiter r(1, milliseconds(1000));
  const Clock::time_point t0{};
  EXPECT_EQ(r.Allow(t0), 0u);
  EXPECT_FALSE(r.Allow(t0 + milliseconds(5)).has_value());
  EXPECT_FALSE(r.Allow(t0 + milliseconds(6)).has_value());
  EXPECT_EQ(r.Flush(t0 + milliseconds(999)), 0u);  // its window lasts
  EXPECT_EQ(r.Flush(t0 + milliseconds(1000)), 2u);
  EXPECT_EQ(r.Flush(t0 + milliseconds(2000)), 0u);  // once
  EXPECT_EQ(r.Allow(t0 + milliseconds(2001)), 0u);  // nothing left to carry
}

TEST(RequestErrorLogTest, AFloodThatStopsIsReportedByFlush) {
  Captured c;
  RequestErrorLog e(c.Fn());
  const Clock::time_point t0{};
  for (int i = 0; i < 12; ++i) e.Report("", "", Status::Protocol("bad"), t0);
  e.Report("GET", "x", Status::Internal("oops"), t0);
  const size_t before = c.lines.size();
  e.Flush(t0 + milliseconds(500));
  EXPECT_EQ(c.lines.size(), before);
  e.Flush(t0 + std::chrono::seconds(1));
  ASSERT_EQ(c.lines.size(), before + 1);
  EXPECT_EQ(c.lines.back().first, log::Level::kWarn);
  EXPECT_EQ(c.lines.back().second, "7 similar malformed requests suppressed");
  e.Flush(t0 + std::chrono::seconds(2));
  EXPECT_EQ(c.lines.size(), before + 1);
}

TEST(RequestErrorLogTest, NullLogWritesNothing) {
  RequestErrorLog e(nullptr);
  e.Report("GET", "x", Status::Internal("oops"));  // must not crash
}

}  // namespace
}  // namespace shovel::worker
