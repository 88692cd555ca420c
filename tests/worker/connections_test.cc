// ConnectionTable: which accepted connections to close (pure).
#include "connections.h"

#include <gtest/gtest.h>

namespace shovel::worker {
namespace {

constexpr int64_t kSec = 1'000'000'000;

TEST(ConnectionTable, RefusesPastTheLimitAndFreesSlotsOnClose) {
  ConnectionTable t(2, 0);
  EXPECT_TRUE(t.Accepted(10, 0));
  EXPECT_TRUE(t.Accepted(11, 0));
  EXPECT_FALSE(t.Accepted(12, 0));
  EXPECT_EQ(t.open(), 2u);
  EXPECT_EQ(t.refused(), 1u);
  t.Closed(12);  // the refused one ends: no slot given back
  EXPECT_EQ(t.open(), 2u);
  EXPECT_FALSE(t.Accepted(12, 0));
  t.Closed(12);
  t.Closed(10);
  EXPECT_EQ(t.open(), 1u);
  EXPECT_TRUE(t.Accepted(10, 0));
  EXPECT_EQ(t.refused(), 2u);
  t.Closed(99);  // unknown: ignored
  EXPECT_EQ(t.open(), 2u);
}

TEST(ConnectionTable, ADescriptorAcceptedTwiceIsCountedOnce) {
  ConnectionTable t(5, 0);
  EXPECT_TRUE(t.Accepted(7, 0));
  EXPECT_TRUE(t.Accepted(7, 0));  // its close was missed
  EXPECT_EQ(t.open(), 1u);
}

TEST(ConnectionTable, IdleConnectionsAreReturnedOnceWithTheirAddress) {
  ConnectionTable t(5, 10 * kSec);
  t.Accepted(3, 0, "a");
  t.Accepted(4, 0, "b");
  t.Active(4, 8 * kSec);
  EXPECT_TRUE(t.Idle(10 * kSec).empty());
  auto idle = t.Idle(11 * kSec);
  ASSERT_EQ(idle.size(), 1u);
  EXPECT_EQ(idle[0], (std::pair<int, std::string>{3, "a"}));
  EXPECT_TRUE(t.Idle(12 * kSec).empty());  // once
  EXPECT_EQ(t.open(), 1u);                 // a closing one leaves its slot
  EXPECT_EQ(t.idle_closed(), 1u);
  t.Closed(3);
  EXPECT_EQ(t.open(), 1u);
}

TEST(ConnectionTable, NoIdleTimeoutMeansNeverIdle) {
  ConnectionTable t(5, 0);
  t.Accepted(3, 0);
  EXPECT_TRUE(t.Idle(1000 * kSec).empty());
}

TEST(ConnectionTable, DefaultLeavesRoomForTheWorkersOwnDescriptors) {
  EXPECT_EQ(DefaultMaxConnections(1024), 1024u - 64 - 32);
  EXPECT_EQ(DefaultMaxConnections(65536), 65536u - 64 - 2048);
  EXPECT_EQ(DefaultMaxConnections(50), 16u);
}

}  // namespace
}  // namespace shovel::worker
