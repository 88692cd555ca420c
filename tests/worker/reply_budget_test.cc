// ReplyBudget: per-peer reply accounting and the decisions it makes (pure).
#include "reply_budget.h"

#include <gtest/gtest.h>

#include <thread>

namespace shovel::worker {
namespace {

using Verdict = ReplyBudget::Verdict;
constexpr int64_t kSec = 1'000'000'000;

ReplyLimits Small() {
  ReplyLimits l;
  l.per_peer = 100;
  l.total = 250;
  l.parked_count = 2;
  l.parked_bytes = 1000;
  l.stuck_ns = 5 * kSec;
  l.handling = 3;
  return l;
}

TEST(ReplyBudget, ServesUntilPeerIsOverThenParksThenBusy) {
  ReplyBudget b(Small());
  auto q = b.Peer("a", 0);
  EXPECT_EQ(b.Admit("a", 10, 0), Verdict::kServe);
  ReplyBudget::Charge(*q, 100, 0);
  EXPECT_EQ(b.Admit("a", 10, 0), Verdict::kServe);  // at the bound, not over
  ReplyBudget::Charge(*q, 1, 0);
  EXPECT_EQ(b.queued("a"), 101);
  EXPECT_EQ(b.Admit("a", 10, 0), Verdict::kPark);
  EXPECT_EQ(b.Admit("a", 10, 0), Verdict::kPark);
  EXPECT_EQ(b.Admit("a", 10, 0), Verdict::kBusy);  // two parked at most
  // Another peer is served meanwhile.
  EXPECT_EQ(b.Admit("b", 10, 0), Verdict::kServe);
  EXPECT_FALSE(b.MayResume("a"));
  ReplyBudget::Release(*q, 50, 1);
  EXPECT_TRUE(b.MayResume("a"));
  // Parked requests go first: a new one is parked behind them.
  EXPECT_EQ(b.Admit("a", 10, 1), Verdict::kBusy);
  b.Unparked("a", 10);
  EXPECT_EQ(b.Admit("a", 10, 1), Verdict::kPark);
  b.Unparked("a", 10);
  b.Unparked("a", 10);
  EXPECT_EQ(b.Admit("a", 10, 1), Verdict::kServe);
}

TEST(ReplyBudget, ParkedBytesAreBounded) {
  ReplyBudget b(Small());
  ReplyBudget::Charge(*b.Peer("a", 0), 200, 0);
  EXPECT_EQ(b.Admit("a", 900, 0), Verdict::kPark);
  EXPECT_EQ(b.Admit("a", 200, 0), Verdict::kBusy);  // 1100 > 1000 bytes
}

TEST(ReplyBudget, TotalOverParksPeersWithRepliesQueued) {
  ReplyBudget b(Small());
  ReplyBudget::Charge(*b.Peer("a", 0), 90, 0);
  ReplyBudget::Charge(*b.Peer("b", 0), 90, 0);
  ReplyBudget::Charge(*b.Peer("c", 0), 90, 0);
  EXPECT_EQ(b.total(), 270);
  EXPECT_EQ(b.Admit("a", 1, 0), Verdict::kPark);  // under its own bound
  // A peer with nothing of its own queued is still served.
  EXPECT_EQ(b.Admit("d", 1, 0), Verdict::kServe);
  b.Dispatched("d");
  EXPECT_EQ(b.Admit("d", 1, 0), Verdict::kPark);
  b.Replied("d");
  ReplyBudget::Release(*b.Peer("c", 0), 90, 0);
  EXPECT_TRUE(b.MayResume("a"));
  EXPECT_TRUE(b.MayResume("d"));
}

TEST(ReplyBudget, RequestsOnHandlersAreBounded) {
  ReplyBudget b(Small());
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(b.Admit("a", 1, 0), Verdict::kServe);
    b.Dispatched("a");
  }
  EXPECT_EQ(b.Admit("a", 1, 0), Verdict::kPark);
  b.Replied("a");
  EXPECT_TRUE(b.MayResume("a"));
}

TEST(ReplyBudget, StuckWhenNothingTakenForTheDeadline) {
  ReplyBudget b(Small());
  auto q = b.Peer("a", 0);
  b.Peer("idle", 0);
  ReplyBudget::Charge(*q, 10, 1 * kSec);
  EXPECT_TRUE(b.Stuck(5 * kSec).empty());
  ReplyBudget::Release(*q, 5, 4 * kSec);  // progress restarts the clock
  EXPECT_TRUE(b.Stuck(8 * kSec).empty());
  EXPECT_EQ(b.Stuck(10 * kSec), std::vector<std::string>{"a"});
  b.Forget("a");
  EXPECT_TRUE(b.Stuck(10 * kSec).empty());
  // A forgotten peer's replies still leave the total when released.
  EXPECT_EQ(b.total(), 5);
  ReplyBudget::Release(*q, 5, 11 * kSec);
  EXPECT_EQ(b.total(), 0);
}

TEST(ReplyBudget, SweepDropsOnlyIdleEmptyPeers) {
  ReplyBudget b(Small());
  b.Peer("old", 0);
  ReplyBudget::Charge(*b.Peer("busy", 0), 10, 0);
  b.Peer("new", 9 * kSec);
  b.Sweep(10 * kSec, 5 * kSec);
  EXPECT_EQ(b.peers(), 2u);
  EXPECT_EQ(b.queued("busy"), 10);
}

TEST(ReplyBudget, ChargeAndReleaseFromManyThreads) {
  ReplyBudget b(Small());
  auto q = b.Peer("a", 0);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([q] {
      for (int i = 0; i < 10000; ++i) {
        ReplyBudget::Charge(*q, 7, i);
        ReplyBudget::Release(*q, 7, i);
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(b.queued("a"), 0);
  EXPECT_EQ(b.total(), 0);
}

TEST(ReplyBudget, ConnectionIsKeptPerPeer) {
  ReplyBudget b(Small());
  EXPECT_EQ(b.Connection("a").first, -1);
  b.Peer("a", 0);
  b.SetConnection("a", 17, "addr");
  EXPECT_EQ(b.Connection("a"), (std::pair<int, std::string>{17, "addr"}));
}

}  // namespace
}  // namespace shovel::worker
