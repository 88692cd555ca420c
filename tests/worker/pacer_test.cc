// Pacer (pacer.h): the pace of hand-over and drain copies, with the clock
// given by the test, no sleeping and no processes.
#include "pacer.h"

#include <gtest/gtest.h>

#include <chrono>

namespace shovel::worker {
namespace {

using std::chrono::milliseconds;
using Clock = Pacer::Clock;

const Clock::time_point kStart = Clock::time_point{} + std::chrono::hours(1);

TEST(PacerTest, EachCopyIsDueItsBytesAtTheRate) {
  Pacer p(kStart);
  // 1 MB at 10 MB/s: 100 ms; the next, 100 ms later again.
  EXPECT_EQ(p.Sent(1'000'000, 10'000'000, kStart), kStart + milliseconds(100));
  EXPECT_EQ(p.Sent(1'000'000, 10'000'000, kStart + milliseconds(100)),
            kStart + milliseconds(200));
}

TEST(PacerTest, RateHoldsOnAverageWhenCopiesTakeTime) {
  Pacer p(kStart);
  // Each copy takes 30 ms of its own; 1 MB at 10 MB/s is due every 100 ms,
  // so the waits make up the rest and 10 copies end at one second.
  Clock::time_point now = kStart;
  for (int i = 0; i < 10; ++i) {
    now += milliseconds(30);
    Clock::time_point next = p.Sent(1'000'000, 10'000'000, now);
    EXPECT_GT(next, now);
    now = next;
  }
  EXPECT_EQ(now, kStart + milliseconds(1000));
}

TEST(PacerTest, ALittleBehindCatchesUpAtOnce) {
  Pacer p(kStart);
  // Due at 100 ms, the copy ends at 150: 50 ms owed, within kMaxLag, so
  // the next copy may start at once and is due at 200 ms.
  EXPECT_LE(p.Sent(1'000'000, 10'000'000, kStart + milliseconds(150)),
            kStart + milliseconds(150));
  EXPECT_EQ(p.Sent(1'000'000, 10'000'000, kStart + milliseconds(150)),
            kStart + milliseconds(200));
}

TEST(PacerTest, NoBurstAfterAStall) {
  Pacer p(kStart);
  // A copy that ends 10 s late: the pacer starts again from then, so the
  // next copy is due a full 100 ms later, not at once.
  const Clock::time_point late = kStart + std::chrono::seconds(10);
  EXPECT_EQ(p.Sent(1'000'000, 10'000'000, late), late);
  EXPECT_EQ(p.Sent(1'000'000, 10'000'000, late), late + milliseconds(100));
  // Lateness of exactly kMaxLag is still caught up.
  Pacer q(kStart);
  const Clock::time_point edge = kStart + milliseconds(100) + Pacer::kMaxLag;
  EXPECT_EQ(q.Sent(1'000'000, 10'000'000, edge), kStart + milliseconds(100));
}

TEST(PacerTest, ALiveRateChangeAppliesFromTheNextCopy) {
  Pacer p(kStart);
  EXPECT_EQ(p.Sent(1'000'000, 10'000'000, kStart), kStart + milliseconds(100));
  // Raised to 100 MB/s: the next 1 MB is due 10 ms after the last.
  EXPECT_EQ(p.Sent(1'000'000, 100'000'000, kStart + milliseconds(100)),
            kStart + milliseconds(110));
  // Lowered to 1 MB/s: one second.
  EXPECT_EQ(p.Sent(1'000'000, 1'000'000, kStart + milliseconds(110)),
            kStart + milliseconds(1110));
}

TEST(PacerTest, ARateOfZeroCountsAsOneBytePerSecond) {
  Pacer p(kStart);
  EXPECT_EQ(p.Sent(3, 0, kStart), kStart + std::chrono::seconds(3));
}

}  // namespace
}  // namespace shovel::worker
