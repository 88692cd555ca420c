// Watches (worker/src/watches.h): grants, recalls and the holds of the
// replies that made a change, with times passed in.
#include "watches.h"

#include <gtest/gtest.h>

#include <string>

namespace shovel::worker {
namespace {

constexpr Watches::Ns kSec = 1'000'000'000;

Watches::Options Opts(Watches::Ns term = 2 * kSec) {
  Watches::Options o;
  o.term = term;
  o.started = 0;
  return o;
}

// Grants `id` to `peer` as the request of `peer` would.
Watches::Ns GrantAs(Watches& w, std::string_view peer, std::string_view id,
                    Watches::Ns now) {
  Watches::Scope scope(&w, peer);
  return w.Grant(id, now);
}

// A change of `id` made by a request of `peer`: the hold of its reply.
std::optional<Watches::Hold> ChangeAs(Watches& w, std::string_view peer,
                                      std::string_view id, Watches::Ns now) {
  Watches::Scope scope(&w, peer);
  w.Changed(id, true, now);
  return Watches::TakeScopeHold();
}

TEST(WatchesTest, AChangeOfAWatchedIdHoldsItsReplyUntilTheWatcherAnswers) {
  Watches w(Opts());
  EXPECT_EQ(GrantAs(w, "reader", "a", 10 * kSec), 2 * kSec);
  auto hold = ChangeAs(w, "writer", "a", 10 * kSec);
  ASSERT_TRUE(hold.has_value());
  ASSERT_EQ(hold->recalls.size(), 1u);
  ASSERT_TRUE(w.has_notices());
  auto notices = w.TakeNotices();
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].id, "a");
  EXPECT_EQ(notices[0].peers, std::vector<std::string>{"reader"});
  EXPECT_FALSE(w.has_notices());
  EXPECT_FALSE(w.Done(*hold, 10 * kSec + 1));
  w.Acked("someone else", notices[0].seq);
  EXPECT_FALSE(w.Done(*hold, 10 * kSec + 1));
  w.Acked("reader", notices[0].seq);
  EXPECT_TRUE(w.Done(*hold, 10 * kSec + 1));
  // The watch ended with the change: the next change holds nothing.
  EXPECT_FALSE(ChangeAs(w, "writer", "a", 11 * kSec).has_value());
}

TEST(WatchesTest, AWatcherThatDoesNotAnswerIsWaitedForUntilItsTermRunsOut) {
  Watches w(Opts());
  GrantAs(w, "stopped", "a", 10 * kSec);
  auto hold = ChangeAs(w, "writer", "a", 11 * kSec);
  ASSERT_TRUE(hold.has_value());
  EXPECT_FALSE(w.Done(*hold, 12 * kSec - 1));
  EXPECT_TRUE(w.Done(*hold, 12 * kSec));
}

TEST(WatchesTest, ARenewalMovesTheTermAWaitingChangeEndsAt) {
  Watches w(Opts());
  GrantAs(w, "slow", "a", 10 * kSec);
  GrantAs(w, "slow", "b", 10 * kSec);
  auto hold = ChangeAs(w, "writer", "a", 11 * kSec);
  ASSERT_TRUE(hold.has_value());
  {
    Watches::Scope scope(&w, "slow");
    EXPECT_EQ(w.Renew(11 * kSec + 500), 2 * kSec);  // it still uses "b"
  }
  // Its term now ends at 13 s: until it answers, so does the wait.
  EXPECT_FALSE(w.Done(*hold, 12 * kSec + 1));
  EXPECT_TRUE(w.Done(*hold, 13 * kSec + 500));
}

TEST(WatchesTest, RenewingWatchesThatRanOutOrNeverWereGrantsNothing) {
  Watches w(Opts());
  {
    Watches::Scope scope(&w, "stranger");
    EXPECT_EQ(w.Renew(kSec), 0);
  }
  GrantAs(w, "late", "a", kSec);
  Watches::Scope scope(&w, "late");
  EXPECT_EQ(w.Renew(3 * kSec), 0);
  // Forgotten: a change of "a" waits for nobody.
  EXPECT_FALSE(ChangeAs(w, "writer", "a", 3 * kSec).has_value());
}

TEST(WatchesTest, EveryWatcherOfAnIdIsToldAndWaitedFor) {
  Watches w(Opts());
  GrantAs(w, "m1", "a", kSec);
  GrantAs(w, "m2", "a", kSec);
  GrantAs(w, "m2", "b", kSec);
  auto hold = ChangeAs(w, "m1", "a", kSec);  // its own watch too
  ASSERT_TRUE(hold.has_value());
  auto notices = w.TakeNotices();
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].peers.size(), 2u);
  w.Acked("m1", notices[0].seq);
  EXPECT_FALSE(w.Done(*hold, kSec));
  w.Acked("m2", notices[0].seq);
  EXPECT_TRUE(w.Done(*hold, kSec));
  EXPECT_EQ(w.recalls_in_flight(), 0u);
}

TEST(WatchesTest, AnEvictionTellsTheWatchersButHoldsNoReply) {
  Watches w(Opts());
  GrantAs(w, "reader", "a", kSec);
  Watches::Scope scope(&w, "writer");
  w.Changed("a", /*wait=*/false, kSec);
  EXPECT_FALSE(Watches::TakeScopeHold().has_value());
  auto notices = w.TakeNotices();
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].id, "a");
  // Swept once answered or out of term.
  w.Sweep(4 * kSec);
  EXPECT_EQ(w.recalls_in_flight(), 0u);
}

TEST(WatchesTest, NothingIsGrantedWhenOffOrOutsideARequest) {
  Watches off(Opts(0));
  EXPECT_EQ(GrantAs(off, "reader", "a", kSec), 0);
  Watches on(Opts());
  EXPECT_EQ(on.Grant("a", kSec), 0);  // no scope: an in-process call
  EXPECT_EQ(on.bytes(), 0u);
}

TEST(WatchesTest, GrantsStopAtTheByteBoundAndResumeWhenWatchesEnd) {
  Watches::Options o = Opts();
  o.max_bytes = 3 * (Watches::kEntryBytes + 1);
  Watches w(o);
  EXPECT_GT(GrantAs(w, "p", "a", kSec), 0);
  EXPECT_GT(GrantAs(w, "p", "b", kSec), 0);
  EXPECT_GT(GrantAs(w, "p", "c", kSec), 0);
  EXPECT_EQ(GrantAs(w, "p", "d", kSec), 0);
  EXPECT_GT(GrantAs(w, "p", "a", kSec), 0);  // held already: costs nothing
  EXPECT_EQ(w.bytes(), o.max_bytes);
  ChangeAs(w, "q", "a", kSec);
  EXPECT_GT(GrantAs(w, "p", "d", kSec), 0);
  w.Sweep(10 * kSec);
  EXPECT_EQ(w.bytes(), 0u);
}

TEST(WatchesTest, WritesInTheGraceAfterARestartAreHeldUntilItEnds) {
  Watches::Options o = Opts();
  o.started = 100 * kSec;
  o.grace = true;
  Watches w(o);
  auto hold = ChangeAs(w, "writer", "a", 100 * kSec + 1);
  ASSERT_TRUE(hold.has_value());
  EXPECT_TRUE(hold->recalls.empty());
  EXPECT_FALSE(w.Done(*hold, 102 * kSec - 1));
  EXPECT_TRUE(w.Done(*hold, 102 * kSec));
  w.Sweep(102 * kSec);
  EXPECT_FALSE(ChangeAs(w, "writer", "a", 102 * kSec).has_value());
}

TEST(WatchesTest, AWorkersCopyIsNotHeldByTheGraceButStillRecalls) {
  Watches::Options o = Opts();
  o.started = 100 * kSec;
  o.grace = true;
  Watches w(o);
  GrantAs(w, "reader", "a", 100 * kSec);
  Watches::Scope scope(&w, "primary", /*client=*/false);
  w.Changed("b", true, 100 * kSec + 1);
  EXPECT_FALSE(Watches::TakeScopeHold().has_value());
  w.Changed("a", true, 100 * kSec + 1);
  auto hold = Watches::TakeScopeHold();
  ASSERT_TRUE(hold.has_value());
  EXPECT_EQ(hold->not_before, 0);
  EXPECT_EQ(hold->recalls.size(), 1u);
}

TEST(WatchesTest, HoldsAreFoundByPeerAndRequestOnce) {
  Watches w(Opts());
  EXPECT_FALSE(w.holding());
  w.Register("p", 7, Watches::Hold{{1}, 0});
  EXPECT_TRUE(w.holding());
  EXPECT_FALSE(w.TakeHold("p", 8).has_value());
  EXPECT_FALSE(w.TakeHold("q", 7).has_value());
  auto h = w.TakeHold("p", 7);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->recalls, std::vector<uint64_t>{1});
  EXPECT_FALSE(w.holding());
  EXPECT_FALSE(w.TakeHold("p", 7).has_value());
}

}  // namespace
}  // namespace shovel::worker
