// Where a leaving worker's ids go (LeaveTargets, pure): to the worker that
// takes its place in each id's replica set, and only there.
#include "leave.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "shovel/hrw.h"

namespace shovel::worker {
namespace {

const std::vector<std::string> kNodes = {"w1", "w2", "w3", "w4"};

std::string Id(int i) { return "leave/" + std::to_string(i); }

// The replica set of `id` over `nodes` without `gone` (SIZE_MAX: none).
std::vector<std::string> SetOf(const std::string& id, size_t r, size_t gone) {
  std::vector<std::string> out;
  for (size_t k : RankNodes(id, kNodes)) {
    if (k == gone) continue;
    if (out.size() < r) out.push_back(kNodes[k]);
  }
  return out;
}

TEST(Leave, APinnedIdGoesToItsHomeWithoutTheLeavingWorker) {
  for (int i = 0; i < 200; ++i) {
    std::vector<size_t> ranked = RankNodes(Id(i), kNodes);
    for (size_t self = 0; self < kNodes.size(); ++self) {
      auto t = PinnedTarget(Id(i), kNodes, self);
      ASSERT_TRUE(t.has_value());
      EXPECT_NE(*t, self);
      EXPECT_EQ(kNodes[*t], SetOf(Id(i), 1, self)[0]) << Id(i);
    }
  }
  EXPECT_FALSE(PinnedTarget("a", {"w1"}, 0).has_value());
  EXPECT_FALSE(PinnedTarget("a", kNodes, 9).has_value());
}

TEST(Leave, OneCopyGoesToTheNextWorkerOfItsOrder) {
  int held = 0;
  for (int i = 0; i < 400; ++i) {
    std::vector<size_t> t = LeaveTargets(Id(i), kNodes, /*self=*/1, /*r=*/1);
    std::vector<size_t> ranked = RankNodes(Id(i), kNodes);
    if (ranked[0] != 1) {
      EXPECT_TRUE(t.empty()) << Id(i) << ": w2 does not hold it";
      continue;
    }
    ++held;
    ASSERT_EQ(t.size(), 1u);
    // The worker a client routes to once w2 is gone.
    EXPECT_EQ(kNodes[t[0]], SetOf(Id(i), 1, 1)[0]) << Id(i);
  }
  EXPECT_GT(held, 60);  // about a quarter of 400
}

TEST(Leave, WithTwoCopiesOnlyTheWorkerThatEntersTheSetGetsOne) {
  for (int i = 0; i < 400; ++i) {
    std::vector<std::string> before = SetOf(Id(i), 2, SIZE_MAX);
    std::vector<std::string> after = SetOf(Id(i), 2, 2);  // w3 leaves
    std::vector<size_t> t = LeaveTargets(Id(i), kNodes, 2, 2);
    bool held = std::find(before.begin(), before.end(), "w3") != before.end();
    if (!held) {
      EXPECT_TRUE(t.empty()) << Id(i);
      continue;
    }
    ASSERT_EQ(t.size(), 1u) << Id(i);
    // New to the set, and in it afterwards.
    EXPECT_EQ(std::count(before.begin(), before.end(), kNodes[t[0]]), 0) << Id(i);
    EXPECT_EQ(std::count(after.begin(), after.end(), kNodes[t[0]]), 1) << Id(i);
  }
}

TEST(Leave, NothingMovesWhenEveryOtherWorkerHoldsItOrNoneIsLeft) {
  // Four copies over four workers: the others hold every id already.
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(LeaveTargets(Id(i), kNodes, 0, 4).empty());
  EXPECT_TRUE(LeaveTargets("x", {"w1"}, 0, 1).empty());  // the only worker
  EXPECT_TRUE(LeaveTargets("x", kNodes, 9, 1).empty());  // not a member
  EXPECT_TRUE(LeaveTargets("x", kNodes, 0, 0).empty());  // no copies asked
}

}  // namespace
}  // namespace shovel::worker
