// SpreadPool (unit): every item of a Run runs once, on the caller and on
// idle helpers at once, and a caller never waits for a busy helper.
#include "spread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chunk.h"
#include "store_test_util.h"

namespace shovel::worker {
namespace {

using namespace std::chrono_literals;

TEST(SpreadPoolTest, EveryItemRunsExactlyOnce) {
  for (int helpers : {0, 1, 3}) {
    SpreadPool pool(helpers);
    for (size_t n : {0, 1, 2, 5, 1000}) {
      std::vector<std::atomic<int>> runs(n);
      pool.Run(n, [&](size_t i) { runs[i].fetch_add(1); });
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(runs[i].load(), 1) << "helpers " << helpers << " n " << n << " i " << i;
      }
    }
  }
}

TEST(SpreadPoolTest, ManyCallersAtOnceEachGetAllTheirItems) {
  SpreadPool pool(2);
  std::vector<std::thread> callers;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        std::vector<int> out(16, -1);
        pool.Run(out.size(), [&](size_t i) { out[i] = t * 1000 + static_cast<int>(i); });
        for (size_t i = 0; i < out.size(); ++i) {
          if (out[i] != t * 1000 + static_cast<int>(i)) bad.fetch_add(1);
        }
      }
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(SpreadPoolTest, IdleHelpersRunItemsAlongsideTheCaller) {
  SpreadPool pool(1);
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::thread::id> inside;
  bool together = false;
  // Each item waits until two threads are inside items at once: only a
  // helper working beside the caller gets there.
  pool.Run(2, [&](size_t) {
    std::unique_lock<std::mutex> l(mu);
    inside.insert(std::this_thread::get_id());
    if (inside.size() >= 2) together = true;
    cv.notify_all();
    cv.wait_for(l, 10s, [&] { return together; });
  });
  EXPECT_TRUE(together) << "no helper ran an item while the caller ran one";
  EXPECT_GE(pool.helped(), 1u);
}

TEST(SpreadPoolTest, ACallerDoesNotWaitForABusyHelper) {
  SpreadPool pool(1);
  std::mutex mu;
  std::condition_variable cv;
  int blocked = 0;
  bool release = false;
  // Occupy the caller thread `a` and the only helper with items that block.
  std::thread a([&] {
    pool.Run(2, [&](size_t) {
      std::unique_lock<std::mutex> l(mu);
      ++blocked;
      cv.notify_all();
      cv.wait(l, [&] { return release; });
    });
  });
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, 10s, [&] { return blocked == 2; }));
  }
  // With the helper stuck, this call runs its items itself and returns.
  std::atomic<int> ran{0};
  pool.Run(50, [&](size_t) { ran.fetch_add(1); });
  EXPECT_EQ(ran.load(), 50);
  {
    std::lock_guard<std::mutex> l(mu);
    release = true;
  }
  cv.notify_all();
  a.join();
}

// CodecPool with a SpreadPool: frames decompress on several threads and
// land where a serial read puts them.
TEST(SpreadPoolTest, SpreadChunkReadsReturnTheRawBytes) {
  SpreadPool pool(3);
  CodecPool codecs;
  codecs.set_spread(&pool);
  const std::string raw = testing::Text((1u << 20) + 4321);
  auto c = codecs.Compress(raw, 3);
  ASSERT_TRUE(c->compressed);
  ASSERT_GE(c->frame_ends.size(), kSpreadMinFrames);
  const std::vector<std::pair<uint32_t, uint32_t>> ranges = {
      {0, static_cast<uint32_t>(raw.size())},
      {kFrameBytes - 3, 5 * kFrameBytes + 9},
      {7, static_cast<uint32_t>(raw.size()) - 7},
      {2 * kFrameBytes, 4 * kFrameBytes}};
  for (int round = 0; round < 20; ++round) {
    for (auto [off, n] : ranges) {
      std::string out(n, '\0');
      ASSERT_TRUE(codecs.Read(*c, off, n, out.data()).ok());
      ASSERT_EQ(out, raw.substr(off, n)) << off << "+" << n;
    }
  }
  // A damaged frame in the middle fails the read, as a serial read does.
  std::fill(c->data.get() + c->frame_ends[4], c->data.get() + c->frame_ends[5], '\xff');
  std::string out(raw.size(), '\0');
  Status s = codecs.Read(*c, 0, static_cast<uint32_t>(raw.size()), out.data());
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
}

}  // namespace
}  // namespace shovel::worker
