// The lease rules between workers (LeaseTable, pure): when a primary holds
// a lease, when another worker may serve in place of one it passed over,
// and when a fenced worker is let back.
#include "leases.h"

#include <gtest/gtest.h>

#include "shovel/hrw.h"

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

// Clients disagree about who is up: one sends an id to w1, another passed
// w1 over and sends it to w2. This replica (w3) is the one both need.
TEST(Leases, AReplicaLetsAWorkerServeInPlaceOfAnotherOnlyOnceThatOnesLeaseRanOut) {
  LeaseTable t(0);
  ASSERT_TRUE(t.Request("w1", "n1", kWall, 10 * kS).granted);
  LeaseTable::Answer a = t.Request("w2", "n2", kWall, 10 * kS + 200 * kMs, {"w1"});
  EXPECT_FALSE(a.granted);
  EXPECT_EQ(a.busy, "w1");
  EXPECT_EQ(a.wait, LeaseTable::kLease + LeaseTable::kMargin - 200 * kMs);
  EXPECT_FALSE(t.Fenced("w1"));  // not now is not a fence
  // w1 stopped renewing: its lease surely ran out.
  a = t.Request("w2", "n2", kWall, 11600 * kMs, {"w1"});
  EXPECT_TRUE(a.granted);
  EXPECT_TRUE(a.busy.empty());
  EXPECT_FALSE(t.Fenced("w1"));  // w2 fences it, for the writes it serves
  // Back while w2 may serve in its place: not now.
  a = t.Request("w1", "n1", kWall, 11700 * kMs);
  EXPECT_FALSE(a.granted);
  EXPECT_EQ(a.busy, "w2");
}

// A write this worker began in w1's place may still be in flight when w1
// rejoins: w1 gets no lease (and no hand-over) until it is applied. From
// w1's first ask on, nothing more is begun in its place, so w1 waits only
// for what is in flight.
TEST(Leases, AWorkerThisOneServesInPlaceOfGetsNoLeaseUntilThoseRequestsAreDone) {
  LeaseTable t(0);
  ASSERT_TRUE(t.Request("w1", "n1", kWall - 10 * kS, 0).granted);
  ASSERT_EQ(t.TakeOver("w1", 2 * kS, kWall), 0);
  t.BeginInPlace({"w1"}, {"r"});
  t.BeginInPlace({"w1", "w4"}, {"r"});
  // Rejoined after the fence: not now (this worker: busy empty).
  LeaseTable::Answer a = t.Request("w1", "n1", kWall + 1, 2100 * kMs);
  EXPECT_FALSE(a.granted);
  EXPECT_TRUE(a.busy.empty());
  EXPECT_EQ(a.wait, LeaseTable::kInPlaceDrain);
  EXPECT_TRUE(t.Fenced("w1"));
  // It is back: nothing more is served in its place, and nobody else is
  // granted a lease in its place, for a lease's time after it asked.
  EXPECT_EQ(t.TakeOver("w1", 2200 * kMs, kWall), LeaseTable::kLease - 100 * kMs);
  a = t.Request("w2", "n2", kWall, 2200 * kMs, {"w1"});
  EXPECT_FALSE(a.granted);
  EXPECT_EQ(a.busy, "w1");
  t.EndInPlace({"w1"}, {"r"});
  EXPECT_FALSE(t.Request("w1", "n1", kWall + 1, 2300 * kMs).granted);  // one left
  t.EndInPlace({"w1", "w4"}, {"r"});
  a = t.Request("w1", "n1", kWall + 1, 2400 * kMs);
  EXPECT_TRUE(a.granted);
  EXPECT_TRUE(a.rejoined);
  EXPECT_GT(t.TakeOver("w1", 2500 * kMs, kWall), 0);  // it holds a lease
}

// A worker that asked for a lease and went away again before it was
// granted one is served in place of once that ask is a lease's time old.
TEST(Leases, AWorkerThatAskedAndWentAwayIsServedInPlaceOfAgain) {
  LeaseTable t(0);
  ASSERT_TRUE(t.Request("w1", "n1", kWall - 10 * kS, 0).granted);
  ASSERT_EQ(t.TakeOver("w1", 2 * kS, kWall), 0);
  t.BeginInPlace({"w1"}, {"r"});
  EXPECT_FALSE(t.Request("w1", "n1", kWall + 1, 2100 * kMs).granted);
  t.EndInPlace({"w1"}, {"r"});
  EXPECT_GT(t.TakeOver("w1", 3 * kS, kWall), 0);
  EXPECT_EQ(t.TakeOver("w1", 2100 * kMs + LeaseTable::kLease, kWall), 0);
}

TEST(Leases, AWorkerServedInPlaceOfGetsNoLeaseWhileThatGrantMayHold) {
  LeaseTable t(0);
  ASSERT_TRUE(t.Request("w2", "n2", kWall, 10 * kS, {"w1"}).granted);
  // w1 rejoined, but w2 may still serve in its place: not now.
  LeaseTable::Answer a = t.Request("w1", "n1", kWall + kS, 10500 * kMs);
  EXPECT_FALSE(a.granted);
  EXPECT_EQ(a.busy, "w2");
  EXPECT_EQ(a.wait, LeaseTable::kLease + LeaseTable::kInPlaceMargin - 500 * kMs);
  // w2 renews without w1 (no client passes it over any more): the grant
  // in w1's place still holds its time.
  ASSERT_TRUE(t.Request("w2", "n2", kWall, 10900 * kMs, {}).granted);
  EXPECT_EQ(t.Request("w1", "n1", kWall + kS, 11 * kS).busy, "w2");
  a = t.Request("w1", "n1", kWall + kS, 11500 * kMs);
  EXPECT_TRUE(a.rejoined);  // hand it its ids
  // Not yet granted: w2's lease, from before w1 came back, may hold.
  EXPECT_TRUE(a.introducing);
  EXPECT_EQ(a.wait, 450 * kMs);
  a = t.Request("w1", "n1", kWall + kS, 11950 * kMs);
  EXPECT_TRUE(a.granted);
  EXPECT_FALSE(a.rejoined);
  // Now w2 may not serve in w1's place until w1's lease ran out.
  a = t.Request("w2", "n2", kWall, 12 * kS, {"w1"});
  EXPECT_EQ(a.busy, "w1");
}

TEST(Leases, TwoWorkersEachInPlaceOfTheOtherGetOneGrantBetweenThem) {
  LeaseTable t(0);
  ASSERT_TRUE(t.Request("w2", "n2", kWall, 10 * kS, {"w1"}).granted);
  // w1 (rejoined) asks in place of w2: w2 serves in w1's place.
  LeaseTable::Answer a = t.Request("w1", "n1", kWall + kS, 10 * kS + 1, {"w2"});
  EXPECT_FALSE(a.granted);
  EXPECT_EQ(a.busy, "w2");
  EXPECT_FALSE(t.Fenced("w2"));
}

TEST(Leases, APrimaryKnowsWhichPassedOverWorkersItsLeaseCovers) {
  LeaseTable t(0);
  t.WantInPlace("w3", "w1", 10 * kS);
  EXPECT_EQ(t.InPlaceOf("w3", 10 * kS), (std::vector<std::string>{"w1"}));
  EXPECT_TRUE(t.InPlaceOf("w3", 12 * kS).empty());  // not named for a lease
  t.Granted("w3", 10 * kS, {"w1"});
  EXPECT_TRUE(t.Covers("w3", {}, "w2", 10 * kS));
  EXPECT_TRUE(t.Covers("w3", {"w1", "w2"}, "w2", 10 * kS));  // itself skipped
  EXPECT_FALSE(t.Covers("w3", {"w4"}, "w2", 10 * kS));
  EXPECT_FALSE(t.Covers("w3", {"w1"}, "w2", 11 * kS));  // ran out
  t.Granted("w3", 10500 * kMs, {});
  EXPECT_FALSE(t.Covers("w3", {"w1"}, "w2", 10600 * kMs));
  t.DropHeld();
  EXPECT_FALSE(t.Covers("w3", {}, "w2", 10600 * kMs));
}

// The primary's side: a lease covers serving in place of a worker only
// while every ask sent since named it too (the replica keeps the latest
// ask's list), and an ask names whom a request is still served in place
// of with that replica.
TEST(Leases, ALeaseCoversServingInPlaceOnlyWhileEveryAskSinceNamedThatWorker) {
  LeaseTable t(0);
  t.WantInPlace("w3", "w1", 10 * kS);
  LeaseTable::AskedFor a1 = t.AskList("w3", 10 * kS, /*in_place=*/true);
  EXPECT_EQ(a1.list, (std::vector<std::string>{"w1"}));
  t.Granted("w3", 10 * kS, a1.list, a1.seq);
  EXPECT_TRUE(t.Covers("w3", {"w1"}, "w2", 10 * kS));
  // A renewal names no one: from its sending on, nothing more in w1's place.
  LeaseTable::AskedFor a2 = t.AskList("w3", 10200 * kMs, /*in_place=*/false);
  EXPECT_TRUE(a2.list.empty());
  EXPECT_GT(a2.seq, a1.seq);
  EXPECT_FALSE(t.Covers("w3", {"w1"}, "w2", 10200 * kMs));
  // An answer to an earlier ask, arriving late, covers nothing more.
  t.Granted("w3", 10 * kS, {"w1"}, a1.seq);
  EXPECT_FALSE(t.Covers("w3", {"w1"}, "w2", 10200 * kMs));
  // An ask in w1's place answered after a renewal that followed it: the
  // replica may have kept either list, so only what both name is covered.
  LeaseTable::AskedFor a3 = t.AskList("w3", 10300 * kMs, true);
  LeaseTable::AskedFor a4 = t.AskList("w3", 10300 * kMs, false);
  t.Granted("w3", 10300 * kMs, a3.list, a3.seq);
  EXPECT_FALSE(t.Covers("w3", {"w1"}, "w2", 10300 * kMs));
  EXPECT_TRUE(t.Covers("w3", {}, "w2", 10300 * kMs));  // the lease itself holds
  t.Granted("w3", 10300 * kMs, a4.list, a4.seq);
  EXPECT_FALSE(t.Covers("w3", {"w1"}, "w2", 10300 * kMs));
  // While a request is served in w1's place with w3 as replica, every ask
  // of w3 names w1 (and no ask of another replica does).
  t.BeginInPlace({"w1"}, {"w3"});
  EXPECT_EQ(t.AskList("w3", 12 * kS, false).list, (std::vector<std::string>{"w1"}));
  EXPECT_TRUE(t.AskList("w4", 12 * kS, false).list.empty());
  t.EndInPlace({"w1"}, {"w3"});
  EXPECT_TRUE(t.AskList("w3", 12 * kS, false).list.empty());
}

// The replica's side: the latest ask's list replaces whom a worker may
// serve in place of, so a worker that is back need not wait out a grant
// in its place that the holder no longer uses.
TEST(Leases, TheLatestAskReplacesWhomAWorkerMayServeInPlaceOf) {
  LeaseTable t(0);
  ASSERT_TRUE(t.Request("w2", "n2", kWall, 10 * kS, {"w1"}, /*ask=*/1).granted);
  LeaseTable::Answer a = t.Request("w1", "n1", kWall, 10100 * kMs);
  EXPECT_FALSE(a.granted);
  EXPECT_EQ(a.busy, "w2");
  // w2's renewal names no one: w1 no longer waits for w2's grant in its
  // place, only (new here) for w2 to hear of it with its next grant.
  ASSERT_TRUE(t.Request("w2", "n2", kWall, 10200 * kMs, {}, 2).granted);
  a = t.Request("w1", "n1", kWall, 10300 * kMs);
  EXPECT_TRUE(a.busy.empty());
  EXPECT_TRUE(a.introducing);
  ASSERT_TRUE(t.Request("w2", "n2", kWall, 10400 * kMs, {}, 3).granted);
  EXPECT_TRUE(t.Request("w1", "n1", kWall, 10500 * kMs).granted);
}

TEST(Leases, AnEarlierAskArrivingLateOnlyAddsWhomAWorkerMayServeInPlaceOf) {
  LeaseTable t(0);
  ASSERT_TRUE(t.Request("w2", "n2", kWall, 10 * kS, {}, 5).granted);
  ASSERT_TRUE(t.Request("w2", "n2", kWall, 10100 * kMs, {"w1"}, 4).granted);
  EXPECT_EQ(t.Request("w1", "n1", kWall, 10200 * kMs).busy, "w2");
  // An older ask without w1 forgets nobody; the next newer one does.
  ASSERT_TRUE(t.Request("w2", "n2", kWall, 10300 * kMs, {}, 3).granted);
  EXPECT_EQ(t.Request("w1", "n1", kWall, 10400 * kMs).busy, "w2");
  ASSERT_TRUE(t.Request("w2", "n2", kWall, 10500 * kMs, {}, 6).granted);
  EXPECT_TRUE(t.Request("w1", "n1", kWall, 10600 * kMs).busy.empty());
  // Under a new epoch (it restarted), its numbers start again.
  LeaseTable u(0);
  ASSERT_TRUE(u.Request("w3", "n3", kWall, 11 * kS, {"w4"}, 9).granted);
  EXPECT_EQ(u.Request("w4", "n4", kWall, 11100 * kMs).busy, "w3");
  ASSERT_TRUE(u.Request("w3", "n3", kWall + kS, 11200 * kMs, {}, 1).granted);
  EXPECT_TRUE(u.Request("w4", "n4", kWall, 11300 * kMs).busy.empty());
}

TEST(Leases, AnIdIsNotServedHereWhileALeasedWorkerComesBeforeThisOne) {
  LeaseTable t(0);
  t.Request("w2", "n2", kWall, 10 * kS);
  std::string before, after;  // ids where n2 comes before n1, and after
  for (int i = 0; before.empty() || after.empty(); ++i) {
    std::string id = "id" + std::to_string(i);
    (RankNodes(id, {"n1", "n2"})[0] == 1 ? before : after) = id;
  }
  EXPECT_EQ(t.OutrankedBy(before, "n1", {}, {}, 10 * kS), "w2");
  EXPECT_EQ(t.OutrankedBy(after, "n1", {}, {}, 10 * kS), "");
  EXPECT_EQ(t.OutrankedBy(before, "n1", {}, {"w2"}, 10 * kS), "");  // passed over
  EXPECT_EQ(t.OutrankedBy(before, "n1", {}, {}, 11500 * kMs), "");  // ran out
  t.Release("w2");                                                  // leaving
  EXPECT_EQ(t.OutrankedBy(before, "n1", {}, {}, 10 * kS), "");
  // w3 only answered this worker's LEASE: it holds no lease from it.
  uint64_t fence = 0;
  t.SetNode("w3", "n2");
  t.Answered("w3", kWall, 10 * kS, &fence);
  EXPECT_EQ(t.OutrankedBy(before, "n1", {}, {}, 10 * kS), "");
  t.Request("w2", "n2", kWall, 10 * kS);
  t.Fence("w2", kWall);  // missed a write
  EXPECT_EQ(t.OutrankedBy(before, "n1", {}, {}, 10 * kS), "");
}

// w3 joins while w1 holds this replica's lease: w3 may serve ids that come
// to it before w1 only once w1 has heard of it, from a grant that names it.
// A worker back under a new epoch moments after its last lease (a quick
// restart): the other holders were told of it with their last grants and
// still keep it, so it waits for none of them. Under another node id, or
// once they may have forgotten it, it waits as a newcomer does.
TEST(Leases, AWorkerBackWithinMomentsWaitsForNoHolderThatStillKnowsIt) {
  // w3 and w1 hold leases from here; w1's grant at 10 s named w3.
  auto two_holders = [](LeaseTable& t) {
    ASSERT_TRUE(t.Request("w3", "n3", kWall, 9 * kS).granted);
    ASSERT_TRUE(t.Request("w1", "n1", kWall, 9100 * kMs).introducing);
    ASSERT_TRUE(t.Request("w3", "n3", kWall, 9200 * kMs).granted);
    ASSERT_TRUE(t.Request("w1", "n1", kWall, 9300 * kMs).granted);
    ASSERT_TRUE(t.Request("w1", "n1", kWall, 10 * kS).granted);
    ASSERT_EQ(t.Holders("w1", 10 * kS),
              (std::vector<std::pair<std::string, std::string>>{{"w3", "n3"}}));
  };
  LeaseTable t(0);
  two_holders(t);
  // w3 restarted: a new epoch, 300 ms after w1's grant named it.
  LeaseTable::Answer a = t.Request("w3", "n3", kWall + kS, 10300 * kMs);
  EXPECT_TRUE(a.granted);
  EXPECT_TRUE(a.rejoined);
  // Restarted under another node id: w1 knows only the old one.
  ASSERT_TRUE(t.Request("w1", "n1", kWall, 10400 * kMs).granted);
  (void)t.Holders("w1", 10400 * kMs);
  a = t.Request("w3", "n3b", kWall + 2 * kS, 10500 * kMs);
  EXPECT_FALSE(a.granted);
  EXPECT_TRUE(a.introducing);
  // Back after w1 may have forgotten it: waits for w1's next grant. (w1
  // renewed at 11 s; w3, gone since 9.2 s, was no longer named then.)
  LeaseTable u(0);
  two_holders(u);
  ASSERT_TRUE(u.Request("w1", "n1", kWall, 11 * kS).granted);
  EXPECT_TRUE(u.Holders("w1", 11 * kS).empty());
  a = u.Request("w3", "n3", kWall + kS, 11500 * kMs);
  EXPECT_FALSE(a.granted);
  EXPECT_TRUE(a.introducing);
}

TEST(Leases, ANewcomerIsGrantedOnceTheOtherHoldersWereToldOfIt) {
  LeaseTable t(0);
  ASSERT_TRUE(t.Request("w1", "n1", kWall, 10 * kS).granted);
  LeaseTable::Answer a = t.Request("w3", "n3", kWall, 10200 * kMs);
  EXPECT_FALSE(a.granted);
  EXPECT_TRUE(a.rejoined);  // its ids are handed over from now on
  EXPECT_TRUE(a.introducing);
  EXPECT_TRUE(a.busy.empty());
  EXPECT_EQ(a.wait, LeaseTable::kLease + LeaseTable::kInPlaceMargin - 200 * kMs);
  // Writes a primary it comes before forwards here are refused already.
  std::string before;  // an id where n3 comes before n1
  for (int i = 0; before.empty(); ++i) {
    std::string id = "id" + std::to_string(i);
    if (RankNodes(id, {"n1", "n3"})[0] == 1) before = id;
  }
  EXPECT_EQ(t.OutrankedBy(before, "n1", {}, {}, 10300 * kMs), "w3");
  // w1 renews: its grant names w3; then w3 is granted (reported once).
  EXPECT_TRUE(t.Request("w1", "n1", kWall, 10300 * kMs).granted);
  EXPECT_EQ(t.Holders("w1", 10300 * kMs),
            (std::vector<std::pair<std::string, std::string>>{{"w3", "n3"}}));
  a = t.Request("w3", "n3", kWall, 10400 * kMs);
  EXPECT_TRUE(a.granted);
  EXPECT_FALSE(a.rejoined);
  EXPECT_EQ(t.Holders("w3", 10400 * kMs),
            (std::vector<std::pair<std::string, std::string>>{{"w1", "n1"}}));
  // A holder that stopped renewing holds nobody up past its lease.
  a = t.Request("w4", "n4", kWall, 10500 * kMs);
  EXPECT_TRUE(a.introducing);
  a = t.Request("w4", "n4", kWall,
                10400 * kMs + LeaseTable::kLease + LeaseTable::kInPlaceMargin);
  EXPECT_TRUE(a.granted);
  // The only one asking: granted at once.
  LeaseTable alone(0);
  EXPECT_TRUE(alone.Request("w5", "n5", kWall, kS).granted);
}

// w1 was fenced and came back under a new epoch while w2 holds a lease:
// not granted yet, but up. Clients that still pass w1 over must not make
// this worker serve in its place and fence it again (w1 would rejoin again
// and again, dropping what was handed to it each time).
TEST(Leases, AFencedWorkerBackUnderANewEpochIsNotFencedAgainWhileItWaits) {
  LeaseTable t(0);
  ASSERT_TRUE(t.Request("w1", "n1", kWall - 10 * kS, 0).granted);
  ASSERT_EQ(t.TakeOver("w1", 2 * kS, kWall), 0);
  ASSERT_TRUE(t.Request("w2", "n2", kWall - 10 * kS, 4 * kS).granted);
  LeaseTable::Answer a = t.Request("w1", "n1", kWall + 1, 4100 * kMs);
  EXPECT_TRUE(a.introducing);
  EXPECT_TRUE(a.rejoined);
  EXPECT_FALSE(t.Fenced("w1"));
  EXPECT_GT(t.TakeOver("w1", 4200 * kMs, kWall + 2 * kS), 0);
  EXPECT_FALSE(t.Fenced("w1"));
  a = t.Request("w1", "n1", kWall + 1,
                4 * kS + LeaseTable::kLease + LeaseTable::kInPlaceMargin);
  EXPECT_TRUE(a.granted);
}

TEST(Leases, APrimaryDoesNotServeAnIdAHolderNamedByItsReplicaComesBefore) {
  LeaseTable t(0);
  std::string before, after;  // ids where n3 comes before n1, and after
  for (int i = 0; before.empty() || after.empty(); ++i) {
    std::string id = "id" + std::to_string(i);
    (RankNodes(id, {"n1", "n3"})[0] == 1 ? before : after) = id;
  }
  t.SetHolders("r", {{"w3", "n3"}, {"w1", "n1"}}, 10 * kS);
  EXPECT_EQ(t.OutrankedBy(before, "n1", {"r"}, {}, 10 * kS), "w3");
  EXPECT_EQ(t.OutrankedBy(after, "n1", {"r"}, {}, 10 * kS), "");
  EXPECT_EQ(t.OutrankedBy(before, "n1", {"other"}, {}, 10 * kS), "");
  EXPECT_EQ(t.OutrankedBy(before, "n1", {"r"}, {"w3"}, 10 * kS), "");  // passed over
  // A later grant that no longer names w3 does not forget it before its
  // lease surely ran out.
  t.SetHolders("r", {}, 10500 * kMs);
  EXPECT_EQ(t.OutrankedBy(before, "n1", {"r"}, {}, 10500 * kMs), "w3");
  EXPECT_EQ(t.OutrankedBy(before, "n1", {"r"}, {},
                          10 * kS + LeaseTable::kLease + LeaseTable::kMargin),
            "");
}

}  // namespace
}  // namespace shovel::worker
