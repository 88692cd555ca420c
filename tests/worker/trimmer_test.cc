// Trimmer: when freed heap memory is given back (pure rule) and the thread.
#include "trimmer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace shovel::worker {
namespace {

constexpr uint64_t kMiB = 1 << 20;

TEST(Trimmer, TrimsOnlyWhenResidentIsWellAboveWhatIsHeld) {
  EXPECT_FALSE(ShouldTrim(40 * kMiB, 10 * kMiB));  // under 10 * 1.25 + 32
  EXPECT_TRUE(ShouldTrim(50 * kMiB, 10 * kMiB));
  EXPECT_FALSE(ShouldTrim(350 * kMiB, 256 * kMiB));  // 320 + 32 = 352
  EXPECT_TRUE(ShouldTrim(360 * kMiB, 256 * kMiB));
}

TEST(Trimmer, SelfRssIsMeasured) { EXPECT_GT(SelfRss(), 1 * kMiB); }

TEST(Trimmer, RunsPeriodicallyAndStopsPromptly) {
  // 64 MiB resident, nothing accounted for: well above.
  std::vector<char> resident(64 * kMiB, 1);
  std::atomic<int> calls{0};
  Trimmer t([&] {
    ++calls;
    return uint64_t{resident[12345] == 1 ? 0u : 1u};
  });
  t.Start();
  auto t0 = std::chrono::steady_clock::now();
  while (t.trims() == 0 &&
         std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  t0 = std::chrono::steady_clock::now();
  t.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
  EXPECT_GE(calls.load(), 1);
  EXPECT_GE(t.trims(), 1u);
}

}  // namespace
}  // namespace shovel::worker
