// The lease rules between workers (LeaseTable, pure): when a primary holds
// a lease, when another worker may serve in place of one it passed over,
// and when a fenced worker is let back.
#include "leases.h"

#include <gtest/gtest.h>

namespace shovel::worker {
namespace {

constexpr LeaseTable::Ns kMs = 1'000'000;
constexpr LeaseTable::Ns kS = 1000 * kMs;
constexpr LeaseTable::Ns kWall = 1'800'000'000 * kS;  // a wall-clock time, ns

TEST(Leases, AGrantHoldsForALeaseFromWhenItWasAsked) {
  LeaseTable t(0);
  EXPECT_FALSE(t.Holds("w2", 10 * kS));
  t.Granted("w2", 10 * kS);  // asked at 10 s, answered later
  EXPECT_TRUE(t.Holds("w2", 10 * kS + 999 * kMs));
  EXPECT_FALSE(t.Holds("w2", 11 * kS));
  t.DropHeld();  // rejoined: nothing held
  EXPECT_FALSE(t.Holds("w2", 10 * kS + 1));
}

TEST(Leases, RenewalsAreDueAheadOfExpiryForPeersStillNamed) {
  LeaseTable t(0);
  t.Want("w2", 0);
  t.Want("w3", 0);
  t.Granted("w2", 0);
  EXPECT_EQ(t.Renewals(100 * kMs, 500 * kMs), (std::vector<std::string>{"w3"}));
  EXPECT_EQ(t.Renewals(600 * kMs, 500 * kMs), (std::vector<std::string>{"w2", "w3"}));
  // Not named for kKeep: no longer kept leased.
  t.Want("w3", 31 * kS);
  EXPECT_EQ(t.Renewals(31 * kS, 500 * kMs), (std::vector<std::string>{"w3"}));
}

TEST(Leases, TakingOverWaitsUntilThePassedOverLeaseSurelyRanOut) {
  LeaseTable t(/*started=*/0);
  // Since start (a restarted worker may have granted one before).
  EXPECT_EQ(t.TakeOver("w1", 0, kWall), LeaseTable::kLease + LeaseTable::kMargin);
  ASSERT_TRUE(t.Request("w1", "n1", kWall - kS, 5 * kS).granted);
  EXPECT_EQ(t.Remaining("w1", 6 * kS), 500 * kMs);
  EXPECT_EQ(t.TakeOver("w1", 6 * kS, kWall), 500 * kMs);
  EXPECT_FALSE(t.Fenced("w1"));
  bool fenced = false;
  EXPECT_EQ(t.TakeOver("w1", 6500 * kMs, kWall, &fenced), 0);
  EXPECT_TRUE(fenced);
  EXPECT_TRUE(t.Fenced("w1"));
  // Taking over again does not report a new fence.
  EXPECT_EQ(t.TakeOver("w1", 7 * kS, kWall + kS, &fenced), 0);
  EXPECT_FALSE(fenced);
}

TEST(Leases, AFencedWorkerGetsNoLeaseUntilItRejoinsAfterTheFence) {
  LeaseTable t(0);
  ASSERT_TRUE(t.Request("w1", "n1", kWall - 10 * kS, 0).granted);
  ASSERT_EQ(t.TakeOver("w1", 2 * kS, kWall), 0);
  // Back under the epoch it had: refused, however often it asks.
  EXPECT_FALSE(t.Request("w1", "n1", kWall - 10 * kS, 3 * kS).granted);
  EXPECT_FALSE(t.Request("w1", "n1", kWall, 3 * kS).granted);
  // Rejoined after the fence: granted, and the grant reports it came back.
  LeaseTable::Answer a = t.Request("w1", "n1", kWall + 1, 4 * kS);
  EXPECT_TRUE(a.granted);
  EXPECT_TRUE(a.rejoined);
  EXPECT_FALSE(t.Fenced("w1"));
  EXPECT_FALSE(t.Request("w1", "n1", kWall + 1, 4 * kS).rejoined);
  // Having just granted one, it does not serve in w1's place.
  EXPECT_GT(t.TakeOver("w1", 4 * kS + 1, kWall + 2 * kS), 0);
}

TEST(Leases, AReplicaThatMissedAWriteIsFencedAtOnceAndTheLatestFenceCounts) {
  LeaseTable t(0);
  ASSERT_TRUE(t.Request("w3", "n3", kWall - kS, 0).granted);
  EXPECT_TRUE(t.Fence("w3", kWall));
  EXPECT_FALSE(t.Fence("w3", kWall + 5 * kS));  // already fenced; the fence moves
  // An epoch between the two fences missed the later write: refused.
  EXPECT_FALSE(t.Request("w3", "n3", kWall + kS, kS).granted);
  EXPECT_TRUE(t.Request("w3", "n3", kWall + 6 * kS, kS).granted);
}

TEST(Leases, ALeavingWorkerIsServedInPlaceOfAtOnce) {
  LeaseTable t(0);
  ASSERT_TRUE(t.Request("w1", "n1", kWall, 10 * kS).granted);
  EXPECT_GT(t.TakeOver("w1", 10 * kS + 1, kWall), 0);
  t.Release("w1");
  EXPECT_EQ(t.TakeOver("w1", 10 * kS + 2, kWall), 0);
  EXPECT_TRUE(t.Fenced("w1"));
  // Restarted, it comes back with a newer epoch (its start time).
  EXPECT_TRUE(t.Request("w1", "n1", kWall + kS, 12 * kS).granted);
}

TEST(Leases, RecentPeersAreThoseGrantedLately) {
  LeaseTable t(0);
  t.Request("w1", "n1", kWall, 1 * kS);
  t.Request("w2", "n2", kWall, 9 * kS);
  auto recent = t.Recent(10 * kS, 5 * kS);
  ASSERT_EQ(recent.size(), 1u);
  EXPECT_EQ(recent[0], (std::pair<std::string, std::string>{"w2", "n2"}));
}

}  // namespace
}  // namespace shovel::worker
