// ConnectionWatches and WatchedStats (client/src/watch_book.h,
// watched_stats.h): when a kept answer may be used, with times passed in.
#include "watch_book.h"

#include <gtest/gtest.h>

#include "watched_stats.h"

namespace shovel::client {
namespace {

constexpr int64_t kSec = 1'000'000'000;

TEST(ConnectionWatchesTest, AGrantHoldsForItsTermFromWhenTheRequestWasSent) {
  ConnectionWatches c;
  auto g = c.Granted("a", 10 * kSec, 2 * kSec, 10 * kSec + 100);
  ASSERT_TRUE(g);
  EXPECT_TRUE(g->Valid(11 * kSec));
  EXPECT_TRUE(g->Valid(12 * kSec - 1));
  EXPECT_FALSE(g->Valid(12 * kSec));
}

TEST(ConnectionWatchesTest, AReplyThatCameAfterItsTermGrantsNothing) {
  ConnectionWatches c;
  EXPECT_FALSE(c.Granted("a", 10 * kSec, 2 * kSec, 12 * kSec));
  EXPECT_FALSE(c.Granted("a", 10 * kSec, 0, 10 * kSec));
  EXPECT_TRUE(c.empty());
}

TEST(ConnectionWatchesTest, AChangeEndsOnlyThatIdsWatch) {
  ConnectionWatches c;
  auto a = c.Granted("a", kSec, 2 * kSec, kSec);
  auto b = c.Granted("b", kSec, 2 * kSec, kSec);
  c.Changed("a");
  c.Changed("never granted");
  EXPECT_FALSE(a->Valid(kSec));
  EXPECT_TRUE(b->Valid(kSec));
}

TEST(ConnectionWatchesTest, ARenewalExtendsEveryWatchAndAnEmptyOneEndsThem) {
  ConnectionWatches c;
  auto a = c.Granted("a", kSec, 2 * kSec, kSec);
  c.Renewed(2 * kSec, 2 * kSec, 2 * kSec + 1);
  EXPECT_TRUE(a->Valid(4 * kSec - 1));
  c.Renewed(3 * kSec, 0, 3 * kSec + 1);  // the worker holds none of them
  EXPECT_FALSE(a->Valid(3 * kSec + 2));
  EXPECT_TRUE(c.empty());
}

TEST(ConnectionWatchesTest, WatchesThatRanOutStayEndedWhenTheConnectionIsGrantedAgain) {
  ConnectionWatches c;
  auto a = c.Granted("a", kSec, 2 * kSec, kSec);
  // The worker may have forgotten "a" by 3 s: a later grant of "b" must
  // not bring it back.
  auto b = c.Granted("b", 4 * kSec, 2 * kSec, 4 * kSec + 1);
  EXPECT_TRUE(b->Valid(5 * kSec));
  EXPECT_FALSE(a->Valid(5 * kSec));
}

TEST(ConnectionWatchesTest, DropAllEndsEveryGrant) {
  ConnectionWatches c;
  auto a = c.Granted("a", kSec, 2 * kSec, kSec);
  auto again = c.Granted("a", kSec, 2 * kSec, kSec);
  EXPECT_FALSE(a->Valid(kSec));  // replaced by the later read
  EXPECT_TRUE(again->Valid(kSec));
  c.DropAll();
  EXPECT_FALSE(again->Valid(kSec));
}

TEST(ConnectionWatchesTest, AGrantAndEachUseCountAsUsingTheConnectionsWatches) {
  ConnectionWatches c;
  auto a = c.Granted("a", kSec, 2 * kSec, kSec + 5);
  EXPECT_EQ(c.used_ns(), kSec + 5);
  EXPECT_TRUE(a->Use(2 * kSec));
  EXPECT_EQ(c.used_ns(), 2 * kSec);
  EXPECT_FALSE(a->Use(4 * kSec));  // ran out: not a use
  EXPECT_EQ(c.used_ns(), 2 * kSec);
}

BlobStat StatOf(const std::string& id, uint64_t version) {
  BlobStat s;
  s.id = id;
  s.version = version;
  return s;
}

TEST(WatchedStatsTest, AKeptAnswerIsUsedWhileItsWatchHoldsUnderTheSameMembership) {
  ConnectionWatches c;
  WatchedStats kept;
  kept.Put(StatOf("a", 7), c.Granted("a", kSec, 2 * kSec, kSec), /*generation=*/1, kSec);
  auto hit = kept.Find("a", 1, kSec + 1);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->version, 7u);
  EXPECT_FALSE(kept.Find("a", 2, kSec + 1).has_value());  // membership moved
  EXPECT_FALSE(kept.Find("a", 1, kSec + 1).has_value());  // and it was dropped
  kept.Put(StatOf("b", 1), c.Granted("b", kSec, 2 * kSec, kSec), 1, kSec);
  c.Changed("b");
  EXPECT_FALSE(kept.Find("b", 1, kSec).has_value());
  EXPECT_EQ(kept.size(), 0u);
}

}  // namespace
}  // namespace shovel::client
