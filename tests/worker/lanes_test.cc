// Lanes (lanes.h): GETs of one id spread over the handlers, writes keep
// their order against everything of their lane.
#include "lanes.h"

#include <gtest/gtest.h>

namespace shovel::worker {
namespace {

TEST(LanesTest, GetsOfOneLaneSpreadOverIdleHandlers) {
  Lanes l(2);
  EXPECT_EQ(l.PickForRead(0), 0u);  // idle: its own handler
  l.Dispatched(0, 0, true);
  EXPECT_EQ(l.PickForRead(0), 1u);  // its own is busy: the idle one
  l.Dispatched(0, 1, true);
  EXPECT_FALSE(l.Idle(0));
  EXPECT_TRUE(l.NoWrites(0));     // a cheap GET may still be served inline
  EXPECT_FALSE(l.WriteMayGo(0));  // a write must wait for the GET on 1
  l.Replied(1);
  EXPECT_TRUE(l.WriteMayGo(0));  // only its own handler has work: FIFO
  EXPECT_FALSE(l.Idle(0));
  l.Replied(0);
  EXPECT_TRUE(l.Idle(0));
  EXPECT_EQ(l.Queued(0), 0);
  EXPECT_EQ(l.Queued(1), 0);
}

TEST(LanesTest, GetsFollowAWriteOnItsLane) {
  Lanes l(2);
  l.Dispatched(0, 0, false);  // a write of lane 0
  EXPECT_FALSE(l.NoWrites(0));
  EXPECT_EQ(l.PickForRead(0), 0u);  // behind the write, though 1 is idle
  l.Dispatched(0, 0, true);
  EXPECT_TRUE(l.WriteMayGo(0));  // nothing of lane 0 elsewhere
  l.Replied(0);                  // the write
  EXPECT_TRUE(l.NoWrites(0));
  EXPECT_EQ(l.PickForRead(0), 1u);  // the GET still queued on 0: go to 1
  l.Replied(0);
  EXPECT_TRUE(l.Idle(0));
}

TEST(LanesTest, RepliesAreCountedPerHandlerInOrder) {
  Lanes l(2);
  l.Dispatched(1, 0, true);   // a GET of lane 1 on handler 0
  l.Dispatched(0, 0, false);  // then a write of lane 0 on handler 0
  EXPECT_FALSE(l.WriteMayGo(1));
  l.Replied(0);  // the first reply from 0 is the GET of lane 1
  EXPECT_TRUE(l.WriteMayGo(1));
  EXPECT_TRUE(l.Idle(1));
  EXPECT_FALSE(l.NoWrites(0));
  l.Replied(0);
  EXPECT_TRUE(l.Idle(0));
  l.Replied(0);  // a stray reply changes nothing
  EXPECT_EQ(l.Queued(0), 0);
}

TEST(LanesTest, AllIdleOnlyWhenNoHandlerHasWork) {
  Lanes l(2);
  EXPECT_TRUE(l.AllIdle());
  l.Dispatched(1, 0, true);  // a GET of lane 1 on handler 0
  EXPECT_TRUE(l.Idle(0));
  EXPECT_FALSE(l.AllIdle());
  l.Dispatched(0, 1, false);  // a write of lane 0 on handler 1
  l.Replied(0);
  EXPECT_FALSE(l.AllIdle());
  l.Replied(1);
  EXPECT_TRUE(l.AllIdle());
}

}  // namespace
}  // namespace shovel::worker
